/**
 * Probability of backtest overfitting by combinatorially symmetric cross-validation (Bailey,
 * Borwein, López de Prado & Zhu, "The Probability of Backtest Overfitting", 2017).
 *
 * The T × N matrix of per-period returns of N candidate configurations is cut into S equal blocks
 * of consecutive periods. For every choice of S/2 blocks as "in sample" (the rest "out of
 * sample"), the candidate with the best in-sample Sharpe ratio is picked and its out-of-sample
 * rank ω among all candidates gives the logit λ = ln(ω / (1 − ω)). PBO is the share of splits
 * where the pick lands at or below the out-of-sample median (λ ≤ 0): how often choosing the
 * in-sample best picks a below-median strategy.
 */
import { StatsError } from './errors';

export interface PboConfig {
  /** Number of blocks S (even). Default 16 (12 870 splits). */
  readonly blocks?: number;
}

export interface PboResult {
  /** Probability of backtest overfitting, 0..1. */
  readonly pbo: number;
  readonly splits: number;
  readonly blocks: number;
  readonly candidates: number;
  /** Logits λ of every split. */
  readonly logits: readonly number[];
  /** Mean out-of-sample Sharpe of the in-sample pick, and mean in-sample Sharpe of the pick. */
  readonly meanInSampleSharpe: number;
  readonly meanOutOfSampleSharpe: number;
  /** Share of splits where the pick lost money out of sample (Sharpe < 0). */
  readonly probabilityOfLoss: number;
}

function combinations(s: number, k: number): number[][] {
  const out: number[][] = [];
  const pick: number[] = [];
  const go = (start: number): void => {
    if (pick.length === k) {
      out.push([...pick]);
      return;
    }
    for (let i = start; i <= s - (k - pick.length); i++) {
      pick.push(i);
      go(i + 1);
      pick.pop();
    }
  };
  go(0);
  return out;
}

/** `returns[t][n]`: period t's return of candidate n (all rows the same length, T divisible or truncated to S blocks). */
export function probabilityOfBacktestOverfitting(
  returns: readonly (readonly number[])[],
  config: PboConfig = {},
): PboResult {
  const s = config.blocks ?? 16;
  if (!Number.isInteger(s) || s < 2 || s % 2 !== 0)
    throw new StatsError('STATS_BAD_INPUT', `PBO: blocks must be an even integer ≥ 2, found ${s}`);
  const tRows = returns.length;
  const candidates = returns[0]?.length ?? 0;
  if (candidates < 2) throw new StatsError('STATS_BAD_INPUT', `PBO: needs at least 2 candidates, found ${candidates}`);
  const blockLen = Math.floor(tRows / s);
  if (blockLen < 2)
    throw new StatsError('STATS_TOO_SHORT', `PBO: ${tRows} periods cannot make ${s} blocks of at least 2 periods`);
  // Per block and candidate: count, sum, sum of squares — a split's Sharpe needs only these.
  const sum = Array.from({ length: s }, () => new Float64Array(candidates));
  const sq = Array.from({ length: s }, () => new Float64Array(candidates));
  for (let t = 0; t < blockLen * s; t++) {
    const row = returns[t] as readonly number[];
    if (row.length !== candidates)
      throw new StatsError('STATS_BAD_INPUT', `PBO: row ${t} has ${row.length} candidates, row 0 has ${candidates}`);
    const b = Math.floor(t / blockLen);
    for (let n = 0; n < candidates; n++) {
      const v = row[n] as number;
      if (!Number.isFinite(v))
        throw new StatsError('STATS_BAD_INPUT', `PBO: return of candidate ${n} at row ${t} is not finite (${v})`);
      (sum[b] as Float64Array)[n] = ((sum[b] as Float64Array)[n] as number) + v;
      (sq[b] as Float64Array)[n] = ((sq[b] as Float64Array)[n] as number) + v * v;
    }
  }
  const sharpeOf = (blocks: readonly number[], n: number): number => {
    let a = 0;
    let b = 0;
    for (const k of blocks) {
      a += (sum[k] as Float64Array)[n] as number;
      b += (sq[k] as Float64Array)[n] as number;
    }
    const m = blocks.length * blockLen;
    const mean = a / m;
    const variance = (b - m * mean * mean) / (m - 1);
    return variance > 0 ? mean / Math.sqrt(variance) : 0;
  };
  const splits = combinations(s, s / 2);
  const logits: number[] = [];
  let overfit = 0;
  let losses = 0;
  let isSum = 0;
  let oosSum = 0;
  for (const train of splits) {
    const inTrain = new Set(train);
    const test = Array.from({ length: s }, (_, i) => i).filter((i) => !inTrain.has(i));
    let best = 0;
    let bestIs = -Infinity;
    for (let n = 0; n < candidates; n++) {
      const v = sharpeOf(train, n);
      if (v > bestIs) {
        bestIs = v;
        best = n;
      }
    }
    const oos = Array.from({ length: candidates }, (_, n) => sharpeOf(test, n));
    const pick = oos[best] as number;
    // Rank 1 = worst out of sample; ties share their mean rank.
    let below = 0;
    let equalCount = 0;
    for (const v of oos) {
      if (v < pick) below++;
      else if (v === pick) equalCount++;
    }
    const rank = below + (equalCount + 1) / 2;
    const omega = rank / (candidates + 1);
    const logit = Math.log(omega / (1 - omega));
    logits.push(logit);
    if (logit <= 0) overfit++;
    if (pick < 0) losses++;
    isSum += bestIs;
    oosSum += pick;
  }
  return {
    pbo: overfit / splits.length,
    splits: splits.length,
    blocks: s,
    candidates,
    logits,
    meanInSampleSharpe: isSum / splits.length,
    meanOutOfSampleSharpe: oosSum / splits.length,
    probabilityOfLoss: losses / splits.length,
  };
}
