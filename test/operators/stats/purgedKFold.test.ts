/**
 * Purged k-fold with embargo: over random sample layouts, the test folds partition the samples in
 * time order, no kept training sample's label window touches a fold's, none starts in the embargo,
 * and every sample dropped had to be (nothing is thrown away that the rule allows).
 */
import { deepEqual, equal, throws } from 'node:assert/strict';
import fc from 'fast-check';
import { purgedKFold } from '../../../operators/stats';

describe('purgedKFold', () => {
  it('folds partition the samples; kept training samples neither overlap a fold’s labels nor start in its embargo; only those are dropped', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 6, maxLength: 120 }),
        fc.integer({ min: 2, max: 6 }),
        fc.integer({ min: 0, max: 10 }),
        fc.integer({ min: 0, max: 10 }),
        (steps, folds, horizon, embargoBars) => {
          fc.pre(steps.length >= folds);
          const index: number[] = [];
          let at = 0;
          for (const s of steps) {
            at += s;
            index.push(at);
          }
          const out = purgedKFold(index, { folds, horizon, embargoBars });
          equal(out.length, folds);
          deepEqual(
            out.flatMap((f) => f.test),
            index.map((_, i) => i),
            'the test folds, in order, are every sample once',
          );
          for (const f of out) {
            const a = index[f.test[0]!]!;
            const b = index[f.test.at(-1)!]!;
            const kept = new Set(f.train);
            for (let j = 0; j < index.length; j++) {
              if (f.test.includes(j)) continue;
              const allowed = index[j]! + horizon < a || index[j]! > b + horizon + embargoBars;
              equal(
                kept.has(j),
                allowed,
                `sample ${j} at ${index[j]} vs fold [${a}, ${b}], h ${horizon}, e ${embargoBars}`,
              );
            }
            equal(f.train.length + f.test.length + f.purged + f.embargoed, index.length);
          }
        },
      ),
      { numRuns: 300, seed: 13 },
    );
  });

  it('a middle fold purges the labels that reach into it and embargoes the look-back after it', () => {
    const index = Array.from({ length: 30 }, (_, i) => i);
    const [, middle] = purgedKFold(index, { folds: 3, horizon: 2, embargoBars: 3 });
    deepEqual(middle!.test, [10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
    // before: 8 and 9 label into bar 10+; after: 20, 21 are inside the fold's last label (19 + 2), 22..24 embargoed.
    deepEqual(middle!.train, [0, 1, 2, 3, 4, 5, 6, 7, 25, 26, 27, 28, 29]);
    equal(middle!.purged, 4);
    equal(middle!.embargoed, 3);
  });

  it('names bad input: folds, horizon, embargo, too few samples, indices out of order', () => {
    throws(
      () => purgedKFold([1, 2, 3], { folds: 1, horizon: 0, embargoBars: 0 }),
      /folds must be an integer ≥ 2, found 1/,
    );
    throws(() => purgedKFold([1, 2, 3], { folds: 2, horizon: -1, embargoBars: 0 }), /horizon must be an integer ≥ 0/);
    throws(
      () => purgedKFold([1, 2, 3], { folds: 2, horizon: 0, embargoBars: 1.5 }),
      /embargoBars must be an integer ≥ 0/,
    );
    throws(() => purgedKFold([1, 2], { folds: 3, horizon: 0, embargoBars: 0 }), /2 samples cannot make 3 folds/);
    throws(() => purgedKFold([1, 3, 3], { folds: 2, horizon: 0, embargoBars: 0 }), /sample 2 has 3 after 3/);
  });
});
