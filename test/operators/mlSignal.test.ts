import { equal, ok } from 'node:assert/strict';
import { NeuralNetwork } from 'brain.js';
import { from, lastValueFrom, map, toArray } from 'rxjs';
import { compileModel, featureVector, MODEL_FORMAT, normalizationOf, type ModelFile } from '../../operators/mlModel';
import { mlSignal } from '../../operators/mlSignal';
import type { Signal } from '../../operators/types';
import { features } from '../support/fixtures';
import { makeTestScheduler } from '../support/marbles';
import { assertThrowingInputReachesErrorChannel } from '../support/errorChannel';

/** A tiny network trained to say "up" when x > 0: enough to exercise the operator exactly. */
function model(overrides: Partial<ModelFile['metrics']> = {}, trainedUntil = -120_000): ModelFile {
  const net = new NeuralNetwork({ hiddenLayers: [3] });
  const data = Array.from({ length: 200 }, (_, i) => {
    const x = (i - 100) / 50;
    return { input: [x], output: [x > 0 ? 1 : 0] };
  });
  net.train(data, { iterations: 2000, errorThresh: 0.005 });
  return {
    format: MODEL_FORMAT,
    version: 1,
    id: 'test-model',
    kind: 'feedforward',
    symbol: 'BTC/USDT',
    timeframe: '1m',
    features: [],
    inputs: [{ ref: 'x' }],
    horizon: 1,
    normalization: { mean: [0], std: [1] },
    training: {
      dataFile: 't',
      dataSha256: '0',
      from: 0,
      to: trainedUntil,
      gapBars: 1,
      testFrom: 0,
      testTo: 0,
      trainSamples: 200,
      testSamples: 0,
      iterations: 0,
      trainError: 0,
      seed: 1,
      hiddenLayers: [3],
    },
    metrics: { oosAccuracy: 0.55, oosBaseRate: 0.5, oosLogLoss: 0.69, trainAccuracy: 0.6, ...overrides },
    network: net.toJSON(),
  };
}

const summary = map((s: Signal) => `${s.direction}|${s.available}|${s.available ? '' : s.detail['reason']}`);

describe('mlSignal', () => {
  const compiled = compileModel(model());

  it('says long when the model gives p > 0.5 + band, short under 0.5 − band, else flat', () => {
    makeTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('a-b-c|', {
        a: features(0, { x: 1.5 }),
        b: features(60_000, { x: -1.5 }),
        c: features(120_000, { x: 0 }),
      });
      expectObservable(source.pipe(mlSignal({ model: compiled, band: 0.2 }), summary)).toBe('a-b-c|', {
        a: '1|true|',
        b: '-1|true|',
        c: '0|true|',
      });
      expectSubscriptions(source.subscriptions).toBe('^----!');
    });
  });

  it('puts the model probability in the detail and its out-of-sample skill in the confidence', () => {
    const out: Signal[] = [];
    makeTestScheduler().run(({ cold }) => {
      cold('a|', { a: features(0, { x: 1.5 }) })
        .pipe(mlSignal({ model: compiled }))
        .subscribe((s) => out.push(s));
    });
    const s = out[0]!;
    const p = s.detail['p'] as number;
    ok(p > 0.7, `p = ${p}`);
    ok(Math.abs(s.strength - Math.abs(2 * p - 1)) < 1e-12);
    ok(Math.abs(s.confidence - 0.5) < 1e-12, `confidence ${s.confidence} for 55 % accuracy`);
    equal(s.id, 'BTC/USDT:1m:60000:ml');
  });

  it('gives a model no better than a coin zero confidence', () => {
    const coin = compileModel(model({ oosAccuracy: 0.49 }));
    const out: Signal[] = [];
    makeTestScheduler().run(({ cold }) => {
      cold('a|', { a: features(0, { x: 1.5 }) })
        .pipe(mlSignal({ model: coin }))
        .subscribe((s) => out.push(s));
    });
    equal(out[0]!.confidence, 0);
  });

  it('is unavailable while an input is warming up', () => {
    makeTestScheduler().run(({ cold, expectObservable }) => {
      const source = cold('a|', { a: features(0, { x: null }) });
      expectObservable(source.pipe(mlSignal({ model: compiled }), summary)).toBe('a|', { a: '0|false|warming up' });
    });
  });

  it('is unavailable on bars the model was trained on, unless allowInSample', () => {
    // trained until 120,000 with horizon 1 (1m): bars up to 180,000 are in-sample
    const recent = compileModel(model({}, 120_000));
    makeTestScheduler().run(({ cold, expectObservable }) => {
      const source = cold('ab|', { a: features(120_000, { x: 1.5 }), b: features(180_000, { x: 1.5 }) });
      expectObservable(source.pipe(mlSignal({ model: recent }), summary)).toBe('ab|', {
        a: '0|false|in-sample',
        b: '1|true|',
      });
      expectObservable(source.pipe(mlSignal({ model: recent, allowInSample: true }), summary)).toBe('ab|', {
        a: '1|true|',
        b: '1|true|',
      });
    });
  });

  it('sends a throwing input to the error channel after what it signalled, and unsubscribes', () => {
    assertThrowingInputReachesErrorChannel(
      () => mlSignal({ model: compiled }),
      features(0, { x: 1.5 }),
      features(120_000, { x: 1.5 }),
    );
  });

  it('passes a source error through, completes on empty, stops on unsubscribe', () => {
    makeTestScheduler().run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const a = features(0, { x: 1.5 });
      expectObservable(cold('a#', { a }).pipe(mlSignal({ model: compiled }), summary)).toBe('a#', { a: '1|true|' });
      expectObservable(cold<typeof a>('--|').pipe(mlSignal({ model: compiled }))).toBe('--|');
      const source = hot('-a-a|', { a });
      expectObservable(source.pipe(mlSignal({ model: compiled }), summary), '^-!').toBe('-a', { a: '1|true|' });
      expectSubscriptions(source.subscriptions).toBe('^-!');
    });
  });

  describe('drift (Page–Hinkley on the log loss)', () => {
    // The model says "up" (x = 1.5) on every bar. For 150 bars the price rises (it is right), then
    // it falls (it is wrong on every label): the log loss jumps and the detector must fire.
    const path = (n: number, turn: number, x = 1.5) =>
      Array.from({ length: n }, (_, i) => features(i * 60_000, { x }, i < turn ? 100 + i : 100 + 2 * turn - i));
    const run = (input: ReturnType<typeof path>, drift?: Parameters<typeof mlSignal>[0]['drift']) =>
      lastValueFrom(from(input).pipe(mlSignal({ model: compiled, ...(drift ? { drift } : {}) }), toArray())) as Promise<
        Signal[]
      >;

    it('after the model turns wrong, an alarm cuts its confidence to weightAfterDrift and every later signal says why', async () => {
      const input = path(400, 150);
      const plain = await run(input);
      const watched = await run(input, { minSamples: 50, threshold: 5, weightAfterDrift: 0.25 });
      const first = watched.findIndex((s) => s.detail['drift'] === 'drift');
      ok(first > 150, `alarm at bar ${first}: not while the model was right`);
      ok(first < 250, `alarm at bar ${first}: within 100 wrong labels`);
      for (let i = 0; i < watched.length; i++) {
        const w = watched[i]!;
        const c = plain[i]!;
        equal(w.direction, c.direction);
        if (i < first) {
          equal(w.confidence, c.confidence);
          equal(w.detail['drift'], undefined);
        } else {
          ok(Math.abs(w.confidence - 0.25 * c.confidence) < 1e-12, `bar ${i}`);
          equal(w.detail['drift'], 'drift');
          equal(w.detail['driftSince'], watched[first]!.tsEvent);
          equal(w.detail['driftWeight'], 0.25);
        }
      }
      const loss = watched[first]!.detail['driftMeanLogLoss'] as number;
      ok(loss > 0 && Number.isFinite(loss));
      ok((watched[first]!.detail['driftStatistic'] as number) > 5);
    });

    it('a model that stays right never alarms', async () => {
      const watched = await run(path(400, 400), { minSamples: 50, threshold: 5 });
      ok(watched.every((s) => s.detail['drift'] === undefined));
    });

    it('labels come only from closed bars: changing prices after bar N changes no signal up to N', async () => {
      const input = path(400, 150);
      const n = 150;
      // After bar N the perturbed prices keep rising: the model stays right there.
      const perturbed = input.map((f, i) => (i > n ? features(f.bar.tsOpen, { x: 1.5 }, 100 + i) : f));
      const a = await run(input, { minSamples: 50, threshold: 5 });
      const b = await run(perturbed, { minSamples: 50, threshold: 5 });
      for (let i = 0; i <= n; i++) equal(JSON.stringify(b[i]), JSON.stringify(a[i]), `bar ${i}`);
      ok(
        a.some((s) => s.detail['drift'] === 'drift'),
        'the original alarms after N',
      );
      ok(
        b.every((s) => s.detail['drift'] === undefined),
        'the perturbation is visible: no alarm',
      );
    });

    it('every subscription starts with a fresh detector', async () => {
      const input = path(400, 150);
      const op = mlSignal({ model: compiled, drift: { minSamples: 50, threshold: 5 } });
      const once = await lastValueFrom(from(input).pipe(op, toArray()));
      const again = await lastValueFrom(from(input).pipe(op, toArray()));
      equal(JSON.stringify(again), JSON.stringify(once));
    });

    it('refuses a weightAfterDrift outside 0..1', () => {
      let message = '';
      try {
        mlSignal({ model: compiled, drift: { weightAfterDrift: 2 } });
      } catch (err) {
        message = (err as Error).message;
      }
      equal(message, 'mlSignal: drift.weightAfterDrift must be within 0..1, found 2');
    });
  });

  describe('featureVector / normalizationOf', () => {
    it('computes ratios to another value and refuses unwarm or non-finite inputs', () => {
      const out = new Float64Array(2);
      ok(featureVector(features(0, { ema: 110 }, 100), [{ ref: 'ema', relativeTo: 'close' }, { ref: 'close' }], out));
      ok(Math.abs(out[0]! - 0.1) < 1e-12);
      equal(out[1], 100);
      equal(featureVector(features(0, { ema: null }, 100), [{ ref: 'ema' }], out), false);
      equal(featureVector(features(0, { ema: 1 }, 0), [{ ref: 'ema', relativeTo: 'close' }], out), false);
    });

    it('normalises each column to mean 0 and standard deviation 1', () => {
      const rows = [new Float64Array([1, 5]), new Float64Array([3, 5])];
      const { mean, std } = normalizationOf(rows, 2);
      equal(mean[0], 2);
      equal(std[0], 1);
      equal(mean[1], 5);
      ok(std[1]! > 0, 'a constant column gets a floor, not a zero');
    });
  });
});
