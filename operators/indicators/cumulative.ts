/**
 * The cumulative indicators — accumulation/distribution (`ad`), Williams A/D (`wad`), negative and
 * positive volume index (`nvi`, `pvi`) — as running sums over every bar since the stream began,
 * as Tulip's `ad.c`, `wad.c`, `nvi.c`, `pvi.c` compute them over a whole series (same operation
 * order, bit for bit). Run by tulind on a rolling window instead, each would restart from zero (or
 * 1000) at the window's first bar: a rolling sum under the cumulative line's name, whose level
 * changes meaning as the window slides. (`obv`, also cumulative, is in obv.ts.)
 */
import { checkOptions } from './internal';
import type { OhlcvInput, StreamingIndicator } from './types';

/**
 * Accumulation/distribution line: Σ volume · ((close − low) − (high − close)) / (high − low),
 * bars with high = low adding nothing. First output on the first bar.
 *
 * @example
 * const ad = createAd([]);
 * @param options `[]` (ad takes no options).
 */
export function createAd(options: readonly number[] = []): StreamingIndicator {
  return new Ad(checkOptions('ad', options, []));
}

class Ad implements StreamingIndicator {
  readonly name = 'ad';
  readonly outputs: readonly string[] = Object.freeze(['ad']);
  readonly warmup = 1;
  readonly values = new Float64Array(1);
  private sum = 0;

  constructor(readonly options: readonly number[]) {}

  update(bar: OhlcvInput): boolean {
    const hl = bar.high - bar.low;
    if (hl !== 0) this.sum += ((bar.close - bar.low - bar.high + bar.close) / hl) * bar.volume;
    this.values[0] = this.sum;
    return true;
  }
}

/**
 * Williams accumulation/distribution: Σ over bars of close − min(previous close, low) on up
 * closes, close − max(previous close, high) on down closes. First output on the second bar.
 *
 * @example
 * const wad = createWad([]);
 * @param options `[]` (wad takes no options).
 */
export function createWad(options: readonly number[] = []): StreamingIndicator {
  return new Wad(checkOptions('wad', options, []));
}

class Wad implements StreamingIndicator {
  readonly name = 'wad';
  readonly outputs: readonly string[] = Object.freeze(['wad']);
  readonly warmup = 2;
  readonly values = new Float64Array(1);
  private sum = 0;
  private yc = 0;
  private started = false;

  constructor(readonly options: readonly number[]) {}

  update(bar: OhlcvInput): boolean {
    const c = bar.close;
    if (!this.started) {
      this.started = true;
      this.yc = c;
      return false;
    }
    if (c > this.yc) this.sum += c - Math.min(this.yc, bar.low);
    else if (c < this.yc) this.sum += c - Math.max(this.yc, bar.high);
    this.yc = c;
    this.values[0] = this.sum;
    return true;
  }
}

/**
 * Negative (`nvi`) or positive (`pvi`) volume index: starts at 1000 and moves by the close's
 * relative change on bars whose volume is lower (nvi) or higher (pvi) than the previous bar's.
 *
 * @example
 * const nvi = createNvi([]);
 * @param options `[]` (no options).
 */
export function createNvi(options: readonly number[] = []): StreamingIndicator {
  return new VolumeIndex('nvi', checkOptions('nvi', options, []));
}

/** See {@link createNvi}. */
export function createPvi(options: readonly number[] = []): StreamingIndicator {
  return new VolumeIndex('pvi', checkOptions('pvi', options, []));
}

class VolumeIndex implements StreamingIndicator {
  readonly outputs: readonly string[];
  readonly warmup = 1;
  readonly values = new Float64Array(1);
  private index = 1000;
  private prevClose = 0;
  private prevVolume = 0;
  private started = false;

  constructor(
    readonly name: 'nvi' | 'pvi',
    readonly options: readonly number[],
  ) {
    this.outputs = Object.freeze([name]);
  }

  update(bar: OhlcvInput): boolean {
    if (this.started) {
      const moves = this.name === 'nvi' ? bar.volume < this.prevVolume : bar.volume > this.prevVolume;
      if (moves) this.index += ((bar.close - this.prevClose) / this.prevClose) * this.index;
    }
    this.started = true;
    this.prevClose = bar.close;
    this.prevVolume = bar.volume;
    this.values[0] = this.index;
    return true;
  }
}
