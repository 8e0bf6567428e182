import { DirectionalState, checkOptions, periodRule } from './internal';
import type { OhlcvInput, StreamingIndicator } from './types';

const OUTPUTS: readonly string[] = Object.freeze(['plus_di', 'minus_di']);

/**
 * Directional indicators +DI and −DI, as Tulip's `di.c`: `100 · dm± / atr` on Wilder-smoothed
 * sums (bars 1…period−1 summed, then `s·(period−1)/period + v`). First output after `period` bars.
 * Where Tulip divides 0 by 0 (no range at all yet) we return 0 instead of NaN.
 *
 * @example
 * const di = createDi([14]);
 * if (di.update(bar)) { const [plus, minus] = di.values; }
 *
 * @param options `[period]`, period in bars ≥ 1.
 */
export function createDi(options: readonly number[]): StreamingIndicator {
  return new Di(checkOptions('di', options, [periodRule()]));
}

class Di implements StreamingIndicator {
  readonly name = 'di';
  readonly outputs = OUTPUTS;
  readonly warmup: number;
  readonly values = new Float64Array(2);
  private readonly state: DirectionalState;

  constructor(readonly options: readonly number[]) {
    this.state = new DirectionalState(options[0]!);
    this.warmup = options[0]!;
  }

  update(bar: OhlcvInput): boolean {
    const i = this.state.update(bar.high, bar.low, bar.close);
    if (i < this.warmup - 1) return false;
    const { atr, dmUp, dmDown } = this.state;
    this.values[0] = atr > 0 ? (100.0 * dmUp) / atr : 0;
    this.values[1] = atr > 0 ? (100.0 * dmDown) / atr : 0;
    return true;
  }
}
