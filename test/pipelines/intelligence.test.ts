/**
 * Intelligence in the whole pipeline, in virtual time: the as-of join never lets a value observed
 * after bar N change a decision at or before N (for every source), a source that goes silent only
 * lowers confidence while trading goes on, and what `record` stores replays through the backtest.
 */
import { deepStrictEqual, equal, notDeepStrictEqual, ok, throws } from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import type { IntelObservation, IntelSource } from '../../operators/intelligence';
import type { Bar } from '../../operators/types';
import { backtestBars } from '../../pipelines/backtest';
import { loadConfig, parseConfig } from '../../pipelines/config';
import { recordIntelligence } from '../../pipelines/record';
import { readIntelRecording } from '../../sources/intel/recording';
import { randomWalkBars } from '../support/fixtures';
import { fearGreedBody, startIntelServer } from '../support/intelServer';
import { tempDir } from '../support/tmp';

interface JournalLine {
  kind: string;
  tsEvent: number;
  [key: string]: unknown;
}

const H = 3_600_000;

const CONFIG = `
name: intel-test
tier: growth
instrument: { venue: binance, symbol: BTC/USDT, qtyStep: "0.00001", priceTick: 0.01, minNotional: "5" }
timeframe: 5m
capital: { initial: "10000" }
features:
  - { id: emaFast, indicator: ema, options: [12] }
  - { id: emaSlow, indicator: ema, options: [48] }
signals:
  ta:
    threshold: 0.01
    rules:
      - { kind: cross, group: trend, fast: emaFast, slow: emaSlow }
  fuse:
    weights: { ta: 0.35, sentiment: 0.15, onchain: 0.10, macro: 0.10, news: 0.05 }
    minScore: 0.1
    minConfidence: 0.1
sizing: { maxPositionPct: 0.2, kellyFraction: 0.25, onFlat: close }
execution: { venue: paper, takerFeeBps: 10, slippageBps: 2 }
journal: { level: all }
intelligence:
  sources: [sentiment, onchain, macro, news]
  timing:
    news: { freshMs: 1800000, maxAgeMs: 7200000 }
  regime: { trendBars: 48 }
`;

/** Generated intelligence, labelled as such: scores follow slow waves, not any real provider. */
function generatedIntel(bars: readonly Bar[], newsUntil = Number.POSITIVE_INFINITY): IntelObservation[] {
  const start = bars[0]!.tsOpen;
  const end = bars.at(-1)!.tsEvent;
  const out: IntelObservation[] = [];
  const push = (
    source: IntelSource,
    metric: string,
    asset: string | null,
    every: number,
    phase: number,
    until = end,
  ) => {
    for (let t = start + phase, i = 0; t <= Math.min(until, end); t += every, i++) {
      out.push({
        kind: 'intel',
        source,
        provider: 'generated',
        metric,
        asset,
        score: Math.sin(i / 3 + phase / H),
        confidence: 0.9,
        tsObserved: t,
        tsInit: t + 1000,
        ...(source === 'news' ? { ref: `n${i}` } : {}),
      });
    }
  };
  push('sentiment', 'fng', null, H, 7 * 60_000);
  push('onchain', 'sopr', 'BTC', 24 * H, 3 * H);
  push('onchain', 'sopr', 'ETH', 24 * H, 3 * H);
  push('macro', 'DFF', null, 72 * H, 11 * H);
  push('news', 'headline', 'BTC', H / 2, 13 * 60_000, newsUntil);
  return out;
}

describe('intelligence in the pipeline (generated bars and generated intelligence, virtual time)', function () {
  this.timeout(120_000);
  const tmp = tempDir();
  const bars = randomWalkBars(2500, { seed: 11 });
  const configFile = path.join(tmp.dir, 'intel.yaml');
  writeFileSync(configFile, CONFIG);
  after(() => tmp.cleanup());

  async function run(intel: readonly IntelObservation[], name: string): Promise<JournalLine[]> {
    const result = await backtestBars(loadConfig(configFile), bars, {
      dataFile: 'generated.csv',
      outDir: path.join(tmp.dir, name),
      intel,
    });
    return readFileSync(result.journalFile, 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as JournalLine);
  }
  const decisions = (journal: JournalLine[], until: number) =>
    journal.filter((e) => ['signal', 'intent', 'approved', 'denied'].includes(e.kind) && e.tsEvent <= until);
  const component = (signal: JournalLine, source: string) =>
    (signal['components'] as { source: string; available: boolean; direction: number; confidence: number }[]).find(
      (c) => c.source === source,
    )!;

  let baseline: JournalLine[];
  before(async () => {
    baseline = await run(generatedIntel(bars), 'baseline');
  });

  for (const source of ['sentiment', 'onchain', 'macro', 'news'] as const) {
    it(`${source}: a value observed after bar N never changes a decision at or before bar N`, async () => {
      const cutIndex = 1200;
      const cut = bars[cutIndex]!.tsEvent;
      // The future of this source turned upside down, plus a loud value 1 ms after the cut.
      const perturbed = generatedIntel(bars)
        .map((o) => (o.source === source && o.tsObserved > cut ? { ...o, score: -o.score, confidence: 1 } : o))
        .concat([
          {
            kind: 'intel',
            source,
            provider: 'generated',
            metric: 'shock',
            asset: 'BTC',
            score: -1,
            confidence: 1,
            tsObserved: cut + 1,
            tsInit: cut + 1,
          },
        ]);
      const changed = await run(perturbed, `lookahead-${source}`);
      deepStrictEqual(
        decisions(changed, cut),
        decisions(baseline, cut),
        `a decision at or before bar ${cutIndex} changed`,
      );
      const laterOf = (j: JournalLine[]) =>
        j
          .filter((e) => e.kind === 'signal' && e.tsEvent > cut && e.tsEvent <= cut + 6 * H)
          .map((e) => component(e, source));
      notDeepStrictEqual(
        laterOf(changed),
        laterOf(baseline),
        'the perturbation must be visible after the cut, or the test proves nothing',
      );
    });
  }

  it('keeps trading on the other sources with lowered confidence when the news feed goes silent', async () => {
    const silentFrom = bars[1000]!.tsEvent;
    const journal = await run(generatedIntel(bars, silentFrom), 'silent-news');
    const signals = journal.filter((e) => e.kind === 'signal');
    const late = signals.filter((e) => e.tsEvent > silentFrom + 2 * H);
    ok(late.length > 1000);
    ok(
      late.every((s) => !component(s, 'news').available),
      'news is unavailable once its last headline is older than maxAgeMs',
    );
    // Same bars, news alive: each late fused confidence is higher by the news' share.
    const alive = new Map(baseline.filter((e) => e.kind === 'signal').map((e) => [e.tsEvent, e]));
    let lower = 0;
    for (const s of late) {
      const withNews = alive.get(s.tsEvent)!;
      ok((s['confidence'] as number) <= (withNews['confidence'] as number) + 1e-12);
      if ((s['confidence'] as number) < (withNews['confidence'] as number)) lower++;
    }
    ok(lower > late.length / 2, `confidence lower on ${lower} of ${late.length} bars`);
    ok(
      journal.some((e) => e.kind === 'approved' && e.tsEvent > silentFrom + 2 * H),
      'orders are still approved after the silence',
    );
    const regimes = new Set(signals.map((s) => (s['detail'] as Record<string, unknown>)['regime']));
    ok(regimes.has('trend') || regimes.has('range'), `regimes seen: ${[...regimes].join(', ')}`);
  });

  it('refuses a config that weighs a source nothing provides, naming file, key and what is missing', () => {
    throws(
      () => parseConfig(CONFIG.replace(/intelligence:[\s\S]*$/, ''), 'no-intel.yaml'),
      /no-intel.yaml:\d+:\d+ key "signals.fuse.weights.sentiment": expected a source listed in intelligence.sources for a weighted sentiment source, found no intelligence section/,
    );
    throws(
      () =>
        parseConfig(CONFIG.replace('sources: [sentiment, onchain, macro, news]', 'sources: [sentiment]'), 'few.yaml'),
      /key "signals.fuse.weights.onchain": expected a source listed in intelligence.sources for a weighted onchain source, found intelligence.sources: \[sentiment\]/,
    );
    throws(
      () => parseConfig(CONFIG.replace('sources: [sentiment, onchain, macro, news]', 'sources: [gossip]'), 'bad.yaml'),
      /key "intelligence.sources\[0\]": expected one of "sentiment", "onchain", "macro", "news", found string "gossip"/,
    );
  });

  it('records what the providers returned, with observation times, and a backtest replays the recording', async () => {
    const server = await startIntelServer();
    try {
      const day = Date.UTC(2024, 0, 3) / 1000;
      server.script('/fng/', { body: fearGreedBody([{ value: 90, timestamp: day }]) });
      server.script('/fred/series/observations', { status: 429, headers: { 'retry-after': '7200' }, body: '{}' });
      const recordConfig = path.join(tmp.dir, 'record.yaml');
      writeFileSync(
        recordConfig,
        `${CONFIG}  providers:\n    fearGreed: { baseUrl: "${server.url}" }\n    fred: { baseUrl: "${server.url}", series: [{ id: DFF, sign: -1, scale: 0.25 }] }\n`,
      );
      const outFile = path.join(tmp.dir, 'recorded', 'intel.jsonl');
      const result = await recordIntelligence({
        configFile: recordConfig,
        outFile,
        durationMs: 2000,
        env: { FRED_API_KEY: 'fred-key' },
      });
      equal(result.observations, 1);
      equal(result.problems, 2, 'the 429 and giving up on a Retry-After beyond the longest honoured wait');
      const lines = readFileSync(outFile, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { kind: string; code?: string });
      deepStrictEqual(lines.map((l) => l.code ?? l.kind).sort(), ['GAVE_UP', 'HTTP_429', 'intel']);
      ok(!readFileSync(outFile, 'utf8').includes('fred-key'));
      const recorded = readIntelRecording([outFile]);
      deepStrictEqual([recorded.length, recorded[0]!.tsObserved, recorded[0]!.score], [1, day * 1000, 0.8]);
      // Replayed: bars before the value was published see no sentiment, bars after see it.
      const replay = await backtestBars(loadConfig(configFile), bars, {
        dataFile: 'generated.csv',
        outDir: path.join(tmp.dir, 'replay'),
        intelFiles: [outFile],
      });
      const journal = readFileSync(replay.journalFile, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as JournalLine)
        .filter((e) => e.kind === 'signal');
      const published = day * 1000;
      ok(journal.filter((s) => s.tsEvent < published).every((s) => !component(s, 'sentiment').available));
      ok(
        journal
          .filter((s) => s.tsEvent >= published && s.tsEvent < published + 6 * H)
          .every((s) => component(s, 'sentiment').available && component(s, 'sentiment').direction === 1),
      );
    } finally {
      await server.close();
    }
  });

  it('names the file, line and field of a bad recording line', () => {
    const file = path.join(tmp.dir, 'bad.jsonl');
    writeFileSync(
      file,
      `${JSON.stringify({ kind: 'intel', source: 'sentiment', provider: 'p', metric: 'm', asset: null, score: 0.1, confidence: 1, tsObserved: 5, tsInit: 5 })}\n{"kind":"intel","source":"gossip"}\n`,
    );
    throws(
      () => readIntelRecording([file]),
      new RegExp(
        `${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:2: source must be sentiment \\| onchain \\| macro \\| news, found "gossip"`,
      ),
    );
    writeFileSync(
      file,
      `${JSON.stringify({ kind: 'intel', source: 'news', provider: 'p', metric: 'm', asset: 'BTC', score: 0.1, confidence: 1, tsObserved: 9, tsInit: 5 })}\n`,
    );
    throws(() => readIntelRecording([file]), /:1: tsObserved must be at or before tsInit/);
  });
});
