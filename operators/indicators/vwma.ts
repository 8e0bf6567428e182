import { Ring, checkOptions, periodRule } from './internal';
import type { OhlcvInput, StreamingIndicator } from './types';

const OUTPUTS: readonly string[] = Object.freeze(['vwma']);

/**
 * Volume-weighted moving average Σ(close · volume) / Σvolume over `period` bars, as Tulip's
 * `vwma.c` (running sums: add new, then subtract old). Reads `close` and `volume`, like tulind.
 *
 * Where the window's volume sums to exactly 0 Tulip divides by zero (NaN/±Infinity); we return
 * the bar's close — the only price seen when nothing traded.
 *
 * @example
 * const vwma = createVwma([20]);
 *
 * @param options `[period]`, period in bars ≥ 1.
 */
export function createVwma(options: readonly number[]): StreamingIndicator {
  return new Vwma(checkOptions('vwma', options, [periodRule()]));
}

class Vwma implements StreamingIndicator {
  readonly name = 'vwma';
  readonly outputs = OUTPUTS;
  readonly warmup: number;
  readonly values = new Float64Array(1);
  private readonly period: number;
  private readonly flows: Ring;
  private readonly volumes: Ring;
  private sum = 0;
  private vsum = 0;
  private bars = 0;

  constructor(readonly options: readonly number[]) {
    this.period = options[0]!;
    this.flows = new Ring(this.period);
    this.volumes = new Ring(this.period);
    this.warmup = this.period;
  }

  update(bar: OhlcvInput): boolean {
    const flow = bar.close * bar.volume;
    const oldFlow = this.flows.shift(flow);
    const oldVolume = this.volumes.shift(bar.volume);
    const full = this.bars >= this.period;
    this.sum += flow;
    if (full) this.sum -= oldFlow;
    this.vsum += bar.volume;
    if (full) this.vsum -= oldVolume;
    this.bars += 1;
    if (this.bars < this.period) return false;
    this.values[0] = this.vsum === 0 ? bar.close : this.sum / this.vsum;
    return true;
  }
}
