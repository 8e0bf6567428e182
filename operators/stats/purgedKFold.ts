/**
 * Purged k-fold cross-validation with an embargo (López de Prado, "Advances in Financial Machine
 * Learning", 2018, ch. 7): k contiguous test folds in time order; a training sample is dropped when
 * its label window overlaps the test fold's (purge), or when it starts within `embargoBars` after
 * the fold's last label (embargo: its features look back into the fold).
 *
 * Sample s covers bars [index_s, index_s + horizon] (features at index_s, label from
 * index_s + horizon). For a test fold spanning indices [a, b], a training sample j is kept only if
 *   index_j + horizon < a                       (its label is known before the fold starts), or
 *   index_j > b + horizon + embargoBars         (it starts after the fold's last label and the embargo).
 */
import { StatsError } from './errors';

export interface PurgedKFoldConfig {
  /** Number of test folds k (≥ 2). */
  readonly folds: number;
  /** Label horizon in bars: sample s's label is read at index_s + horizon. */
  readonly horizon: number;
  /** Bars after the fold's last label in which no training sample may start (feature look-back). */
  readonly embargoBars: number;
}

export interface PurgedFold {
  /** Positions (into the samples given) of the test fold, contiguous. */
  readonly test: readonly number[];
  /** Positions of the training samples kept. */
  readonly train: readonly number[];
  /** Training samples dropped because their label window overlaps the fold's. */
  readonly purged: number;
  /** Training samples dropped in the embargo after the fold. */
  readonly embargoed: number;
}

/** `index`: each sample's bar index, strictly increasing. */
export function purgedKFold(index: readonly number[], config: PurgedKFoldConfig): PurgedFold[] {
  const { folds, horizon, embargoBars } = config;
  if (!Number.isInteger(folds) || folds < 2)
    throw new StatsError('STATS_BAD_INPUT', `purged k-fold: folds must be an integer ≥ 2, found ${folds}`);
  if (!Number.isInteger(horizon) || horizon < 0)
    throw new StatsError('STATS_BAD_INPUT', `purged k-fold: horizon must be an integer ≥ 0, found ${horizon}`);
  if (!Number.isInteger(embargoBars) || embargoBars < 0)
    throw new StatsError('STATS_BAD_INPUT', `purged k-fold: embargoBars must be an integer ≥ 0, found ${embargoBars}`);
  if (index.length < folds)
    throw new StatsError('STATS_TOO_SHORT', `purged k-fold: ${index.length} samples cannot make ${folds} folds`);
  for (let i = 1; i < index.length; i++)
    if (!((index[i] as number) > (index[i - 1] as number)))
      throw new StatsError(
        'STATS_BAD_INPUT',
        `purged k-fold: sample indices must increase; sample ${i} has ${index[i]} after ${index[i - 1]}`,
      );
  const out: PurgedFold[] = [];
  for (let k = 0; k < folds; k++) {
    const lo = Math.floor((k * index.length) / folds);
    const hi = Math.floor(((k + 1) * index.length) / folds);
    const a = index[lo] as number;
    const b = index[hi - 1] as number;
    const test: number[] = [];
    const train: number[] = [];
    let purged = 0;
    let embargoed = 0;
    for (let j = 0; j < index.length; j++) {
      if (j >= lo && j < hi) {
        test.push(j);
        continue;
      }
      const at = index[j] as number;
      if (at + horizon < a || at > b + horizon + embargoBars) train.push(j);
      else if (at < a) purged++;
      else if (at <= b + horizon) purged++;
      else embargoed++;
    }
    out.push({ test, train, purged, embargoed });
  }
  return out;
}
