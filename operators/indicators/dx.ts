import { DirectionalState, checkOptions, periodRule } from './internal';
import type { OhlcvInput, StreamingIndicator } from './types';

const OUTPUTS: readonly string[] = Object.freeze(['dx']);

/**
 * Directional movement index `|+DI − −DI| / (+DI + −DI) · 100`, as Tulip's `dx.c`. First output
 * after `period` bars. Where Tulip divides 0 by 0 we return 0 instead of NaN.
 *
 * @example
 * const dx = createDx([14]);
 *
 * @param options `[period]`, period in bars ≥ 1.
 */
export function createDx(options: readonly number[]): StreamingIndicator {
  return new Dx(checkOptions('dx', options, [periodRule()]));
}

class Dx implements StreamingIndicator {
  readonly name = 'dx';
  readonly outputs = OUTPUTS;
  readonly warmup: number;
  readonly values = new Float64Array(1);
  private readonly state: DirectionalState;

  constructor(readonly options: readonly number[]) {
    this.state = new DirectionalState(options[0]!);
    this.warmup = options[0]!;
  }

  update(bar: OhlcvInput): boolean {
    const i = this.state.update(bar.high, bar.low, bar.close);
    if (i < this.warmup - 1) return false;
    this.values[0] = this.state.dx();
    return true;
  }
}
