import { MonotonicDeque, TiBuffer, checkOptions, periodRule } from './internal';
import type { OhlcvInput, StreamingIndicator } from './types';

const OUTPUTS: readonly string[] = Object.freeze(['stoch_k', 'stoch_d']);

/**
 * Stochastic oscillator, as Tulip's `stoch.c`. Options are in Tulip's order: %k period, %k
 * slowing period, %d period. Fast %K = 100 · (close − LL) / (HH − LL) over the last `%k period`
 * bars (0 when HH = LL); %K = its SMA over `%k slowing`; %D = the SMA of %K over `%d period`,
 * both as Tulip's running `ti_buffer` sums. First output after `kp + ks + dp − 2` bars.
 *
 * The highest high and lowest low come from monotonic deques (O(1) amortised) rather than Tulip's
 * rescans; both yield the same extreme values exactly.
 *
 * @example
 * const stoch = createStoch([14, 3, 3]);
 * if (stoch.update(bar)) { const [k, d] = stoch.values; }
 *
 * @param options `[%k period, %k slowing period, %d period]`, each in bars ≥ 1.
 */
export function createStoch(options: readonly number[]): StreamingIndicator {
  return new Stoch(
    checkOptions('stoch', options, [
      periodRule(1, '%k period'),
      periodRule(1, '%k slowing period'),
      periodRule(1, '%d period'),
    ]),
  );
}

class Stoch implements StreamingIndicator {
  readonly name = 'stoch';
  readonly outputs = OUTPUTS;
  readonly warmup: number;
  readonly values = new Float64Array(2);
  private readonly kperiod: number;
  private readonly kslow: number;
  private readonly kper: number;
  private readonly dper: number;
  private readonly highs: MonotonicDeque;
  private readonly lows: MonotonicDeque;
  private readonly kSum: TiBuffer;
  private readonly dSum: TiBuffer;
  private bars = 0;

  constructor(readonly options: readonly number[]) {
    const [kperiod, kslow, dperiod] = options as [number, number, number];
    this.kperiod = kperiod;
    this.kslow = kslow;
    this.kper = 1.0 / kslow;
    this.dper = 1.0 / dperiod;
    this.highs = new MonotonicDeque(kperiod, true);
    this.lows = new MonotonicDeque(kperiod, false);
    this.kSum = new TiBuffer(kslow);
    this.dSum = new TiBuffer(dperiod);
    this.warmup = kperiod + kslow + dperiod - 2;
  }

  update(bar: OhlcvInput): boolean {
    const i = this.bars;
    this.bars += 1;
    const oldest = i - this.kperiod + 1;
    this.highs.push(bar.high, i, oldest);
    this.lows.push(bar.low, i, oldest);
    const max = this.highs.value();
    const min = this.lows.value();
    const kdiff = max - min;
    const kfast = kdiff === 0.0 ? 0.0 : 100 * ((bar.close - min) / kdiff);
    this.kSum.push(kfast);
    if (i < this.kperiod - 1 + this.kslow - 1) return false;
    const k = this.kSum.sum * this.kper;
    this.dSum.push(k);
    if (i < this.warmup - 1) return false;
    this.values[0] = k;
    this.values[1] = this.dSum.sum * this.dper;
    return true;
  }
}
