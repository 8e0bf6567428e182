import { TiBuffer, checkOptions, periodRule } from './internal';
import type { OhlcvInput, StreamingIndicator } from './types';

const OUTPUTS: readonly string[] = Object.freeze(['mfi']);

/**
 * Money flow index, as Tulip's `mfi.c`: typical price tp = (high + low + close) / 3; a bar's
 * money flow tp · volume counts as positive when tp rose, negative when it fell, neither when
 * unchanged; MFI = 100 · positive / (positive + negative) over `period` bars, from Tulip's running
 * `ti_buffer` sums. First output after `period + 1` bars.
 *
 * Where both sums are exactly 0 (no change in tp or no volume for `period` bars) Tulip yields
 * NaN; we return 50, the neutral value.
 *
 * @example
 * const mfi = createMfi([14]);
 *
 * @param options `[period]`, period in bars ≥ 1.
 */
export function createMfi(options: readonly number[]): StreamingIndicator {
  return new Mfi(checkOptions('mfi', options, [periodRule()]));
}

class Mfi implements StreamingIndicator {
  readonly name = 'mfi';
  readonly outputs = OUTPUTS;
  readonly warmup: number;
  readonly values = new Float64Array(1);
  private readonly period: number;
  private readonly up: TiBuffer;
  private readonly down: TiBuffer;
  private prevTyp = 0;
  private bars = 0;

  constructor(readonly options: readonly number[]) {
    this.period = options[0]!;
    this.up = new TiBuffer(this.period);
    this.down = new TiBuffer(this.period);
    this.warmup = this.period + 1;
  }

  update(bar: OhlcvInput): boolean {
    const i = this.bars;
    this.bars += 1;
    const typ = (bar.high + bar.low + bar.close) * (1.0 / 3.0);
    const prev = this.prevTyp;
    this.prevTyp = typ;
    if (i === 0) return false;
    const flow = typ * bar.volume;
    if (typ > prev) {
      this.up.push(flow);
      this.down.push(0.0);
    } else if (typ < prev) {
      this.down.push(flow);
      this.up.push(0.0);
    } else {
      this.up.push(0.0);
      this.down.push(0.0);
    }
    if (i < this.period) return false;
    const total = this.up.sum + this.down.sum;
    this.values[0] = total === 0 ? 50 : (this.up.sum / total) * 100.0;
    return true;
  }
}
