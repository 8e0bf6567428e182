import { Ring, checkField, checkOptions, periodRule } from './internal';
import type { OhlcvInput, PriceField, StreamingIndicator } from './types';

const OUTPUTS: readonly string[] = Object.freeze(['wma']);

/**
 * Linearly weighted moving average (weights 1…period, newest heaviest), as Tulip's `wma.c`: O(1)
 * per bar by keeping the weighted sum and the plain sum; after each output the weighted sum
 * drops one of every input (`ws −= sum`) and the plain sum drops the oldest.
 *
 * ```
 * close: 1  2  3          (period 3: (1·1 + 2·2 + 3·3) / 6)
 * wma:   -  -  2.33
 * ```
 *
 * @example
 * const wma = createWma([9]);
 *
 * @param options `[period]`, period in bars ≥ 1.
 * @param input Bar field feeding tulind's `real` input. Default `close`.
 */
export function createWma(options: readonly number[], input: PriceField = 'close'): StreamingIndicator {
  return new Wma(checkOptions('wma', options, [periodRule()]), checkField('wma', input));
}

class Wma implements StreamingIndicator {
  readonly name = 'wma';
  readonly outputs = OUTPUTS;
  readonly warmup: number;
  readonly values = new Float64Array(1);
  private readonly period: number;
  private readonly weights: number;
  /** Holds the inputs still inside the window; the oldest is dropped from `sum` after output. */
  private readonly ring: Ring;
  private weightSum = 0;
  private sum = 0;
  private bars = 0;

  constructor(
    readonly options: readonly number[],
    private readonly field: PriceField,
  ) {
    this.period = options[0]!;
    // Tulip computes this in C int arithmetic; the product of consecutive integers is even, so
    // the division is exact either way.
    this.weights = (this.period * (this.period + 1)) / 2;
    this.ring = new Ring(this.period);
    this.warmup = this.period;
  }

  update(bar: OhlcvInput): boolean {
    const x = bar[this.field];
    const p = this.period;
    this.ring.shift(x);
    if (this.bars < p - 1) {
      this.weightSum += x * (this.bars + 1);
      this.sum += x;
      this.bars += 1;
      return false;
    }
    this.bars += 1;
    this.weightSum += x * p;
    this.sum += x;
    this.values[0] = this.weightSum / this.weights;
    this.weightSum -= this.sum;
    // The ring's oldest slot is the input period−1 bars back: the one leaving the next window.
    this.sum -= this.ring.oldest();
    return true;
  }
}
