/**
 * Tree-structured Parzen estimator (Bergstra et al., "Algorithms for Hyper-Parameter
 * Optimization", 2011), one independent density per dimension: the trials so far are split into
 * the best γ share ("good") and the rest; a candidate is drawn from the good trials' Parzen density
 * l(x) and the one maximising l(x) / g(x) (g: the rest's density) is proposed. The first
 * `startupTrials` are uniform. Parameters live in the unit cube; callers scale them to bounds.
 * Deterministic: the draw for trial k depends only on the seed, k and the history.
 */
import { mulberry32 } from '../random';
import { StatsError } from './errors';

export interface TpeConfig {
  readonly dimensions: number;
  readonly seed?: number;
  /** Uniform draws before the model is used. Default 8. */
  readonly startupTrials?: number;
  /** Share of trials counted as good. Default 0.25. */
  readonly gamma?: number;
  /** Candidates drawn from l(x) per proposal. Default 24. */
  readonly candidates?: number;
}

export interface TpeTrial {
  /** Point in [0, 1]^dimensions. */
  readonly x: readonly number[];
  /** Higher is better. Non-finite values count as the worst. */
  readonly value: number;
}

function gaussian(rand: () => number): number {
  const u = 1 - rand();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
}

/**
 * An adaptive Parzen estimator on [0, 1] (as hyperopt's): a Gaussian at each point with σ the
 * larger gap to its neighbours (clipped to [1/min(100, n+1), 1]), plus a wide prior N(0.5, 1), all
 * weighted equally. Wide where the points are sparse, so the search keeps exploring.
 */
interface Parzen {
  readonly mu: readonly number[];
  readonly sigma: readonly number[];
}

function parzen(points: readonly number[]): Parzen {
  const sorted = [...points, 0.5].sort((a, b) => a - b);
  const n = sorted.length;
  const minSigma = 1 / Math.min(100, n + 1);
  const sigma = sorted.map((m, i) => {
    const left = m - (i > 0 ? (sorted[i - 1] as number) : 0);
    const right = (i < n - 1 ? (sorted[i + 1] as number) : 1) - m;
    return Math.min(1, Math.max(minSigma, left, right));
  });
  // The prior's own width is the whole range.
  const prior = sorted.indexOf(0.5);
  sigma[prior] = 1;
  return { mu: sorted, sigma };
}

function logDensity(p: Parzen, x: number): number {
  let s = 0;
  for (let i = 0; i < p.mu.length; i++) {
    const sg = p.sigma[i] as number;
    s += Math.exp(-0.5 * ((x - (p.mu[i] as number)) / sg) ** 2) / (sg * Math.sqrt(2 * Math.PI));
  }
  return Math.log(s / p.mu.length);
}

/** The next point to try, given the trials so far (in the order they ran). */
export function proposeTpe(config: TpeConfig, history: readonly TpeTrial[]): number[] {
  const d = config.dimensions;
  if (!Number.isInteger(d) || d < 1)
    throw new StatsError('STATS_BAD_INPUT', `TPE: dimensions must be an integer ≥ 1, found ${d}`);
  const rand = mulberry32(((config.seed ?? 1) * 1_000_003 + history.length) >>> 0);
  const startup = config.startupTrials ?? 8;
  if (history.length < startup) return Array.from({ length: d }, () => rand());
  const ranked = [...history].sort(
    (a, b) => (Number.isFinite(b.value) ? b.value : -Infinity) - (Number.isFinite(a.value) ? a.value : -Infinity),
  );
  const nGood = Math.max(1, Math.ceil((config.gamma ?? 0.25) * ranked.length));
  const good = ranked.slice(0, nGood);
  const bad = ranked.slice(nGood);
  const good_ = Array.from({ length: d }, (_, k) => parzen(good.map((t) => t.x[k] as number)));
  const bad_ = Array.from({ length: d }, (_, k) => parzen(bad.map((t) => t.x[k] as number)));
  let best: number[] = [];
  let bestScore = -Infinity;
  for (let c = 0; c < (config.candidates ?? 24); c++) {
    const x: number[] = [];
    let score = 0;
    for (let k = 0; k < d; k++) {
      const l = good_[k] as Parzen;
      const i = Math.floor(rand() * l.mu.length);
      let v = (l.mu[i] as number) + (l.sigma[i] as number) * gaussian(rand);
      for (let r = 0; (v < 0 || v > 1) && r < 8; r++) v = v < 0 ? -v : 2 - v; // reflect into [0, 1]
      v = Math.min(1, Math.max(0, v));
      x.push(v);
      score += logDensity(l, v) - logDensity(bad_[k] as Parzen, v);
    }
    if (score > bestScore) {
      bestScore = score;
      best = x;
    }
  }
  return best;
}
