import { Bot4Error } from '../errors';

export type StatsErrorCode = 'STATS_BAD_INPUT' | 'STATS_TOO_SHORT' | 'STATS_DEGENERATE';

/** Bad input to a statistic (too short, not finite, constant); the message names what and why. */
export class StatsError extends Bot4Error<StatsErrorCode> {
  constructor(code: StatsErrorCode, message: string, options?: { readonly cause?: unknown }) {
    super(code, 'stats', message, options);
  }
}

/** Throws unless `x` has at least `min` values, all finite. `what` names the series in the error. */
export function checkSeries(x: ArrayLike<number>, min: number, what: string): void {
  if (x.length < min)
    throw new StatsError('STATS_TOO_SHORT', `${what}: needs at least ${min} values, found ${x.length}`);
  for (let i = 0; i < x.length; i++) {
    const v = x[i] as number;
    if (!Number.isFinite(v))
      throw new StatsError('STATS_BAD_INPUT', `${what}: value ${i} is not a finite number (${v})`);
  }
}
