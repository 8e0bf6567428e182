/**
 * Page–Hinkley: quiet on a stationary stream, fires soon after the mean rises, never on a fall,
 * not before minSamples, and names bad input.
 */
import { equal, ok, throws } from 'node:assert/strict';
import { makePageHinkley } from '../../../operators/stats';
import { mulberry32 } from '../../../operators/random';

describe('Page–Hinkley drift detector', () => {
  const noise = (seed: number) => {
    const r = mulberry32(seed);
    return () => r() - 0.5;
  };

  it('stays quiet on 20,000 samples of stationary noise', () => {
    const ph = makePageHinkley({ delta: 0.05, threshold: 20 });
    const e = noise(1);
    for (let i = 0; i < 20_000; i++) equal(ph.update(1 + e()).alarm, false, `sample ${i}`);
  });

  it('fires within 100 samples of a rise of the mean by 0.5, and keeps saying so', () => {
    const ph = makePageHinkley({ delta: 0.05, threshold: 20 });
    const e = noise(2);
    for (let i = 0; i < 1000; i++) equal(ph.update(1 + e()).alarm, false);
    let at = -1;
    for (let i = 0; i < 200; i++) {
      const s = ph.update(1.5 + e());
      if (s.alarm && at < 0) at = i;
    }
    ok(at >= 0 && at < 100, `alarm after ${at} samples`);
    ok(ph.update(0).alarm, 'latched');
  });

  it('never fires on a fall of the mean (a model getting better is not drift)', () => {
    const ph = makePageHinkley({ delta: 0.05, threshold: 20 });
    const e = noise(3);
    for (let i = 0; i < 1000; i++) ph.update(1 + e());
    for (let i = 0; i < 5000; i++) equal(ph.update(0.2 + e()).alarm, false);
  });

  it('waits for minSamples, and computes the statistic exactly on a small case', () => {
    const ph = makePageHinkley({ delta: 0, threshold: 0.1, minSamples: 3 });
    // x = 0, 1, 1: means 0, 0.5, 2/3; m = 0, 0.5, 0.8333…; min 0
    equal(ph.update(0).statistic, 0);
    const two = ph.update(1);
    equal(two.statistic, 0.5);
    equal(two.alarm, false, 'only 2 samples');
    const three = ph.update(1);
    ok(Math.abs(three.statistic - (0.5 + 1 / 3)) < 1e-15);
    equal(three.alarm, true);
  });

  it('names bad input', () => {
    throws(() => makePageHinkley({ delta: -1, threshold: 1 }), /delta must be a finite number ≥ 0, found -1/);
    throws(() => makePageHinkley({ delta: 0, threshold: 0 }), /threshold must be a finite number > 0, found 0/);
    throws(() => makePageHinkley({ delta: 0, threshold: 1, minSamples: 0 }), /minSamples must be an integer ≥ 1/);
    throws(() => makePageHinkley({ delta: 0, threshold: 1 }).update(Number.NaN), /sample 1 is not a finite number/);
  });
});
