/**
 * Intelligence numbers for `npm run bench`:
 * - calls a day per provider and tier against each daily budget, from a simulated week of
 *   polling in virtual time (the real drivers, with a fetch answering in each API's shape);
 * - memory of the TTL cache and of the as-of book after that week;
 * - the latency the as-of join adds per bar (target ≤ 2 µs), on a year of 5m bars with a year of
 *   observations at the same rates.
 * Generated replies and observations, labelled as such: no provider is called.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { from, map, Subject, VirtualTimeScheduler } from 'rxjs';
import { TtlCache } from '../operators/intelCache';
import { IntelBook, type IntelEvent, type IntelObservation } from '../operators/intelligence';
import { joinIntel } from '../operators/joinIntel';
import { TIERS, type Tier } from '../operators/selectTier';
import { makeIntelSources, planProviders, type IntelProvidersConfig } from '../sources/intel';
import type { Bar } from '../operators/types';
import { randomWalkBars } from '../test/support/fixtures';
import { fearGreedBody, fredBody, grokBody, rssBody } from '../test/support/intelServer';

const DAY = 86_400_000;

/** What a Growth-style config polls: 2 assets, 4 FRED series, 2×3 on-chain metrics, 5 feeds. */
export const BENCH_PROVIDERS: IntelProvidersConfig = {
  grok: { assets: ['BTC', 'ETH'] },
  fearGreed: {},
  fred: {
    series: [
      { id: 'DFF', sign: -1, scale: 0.25 },
      { id: 'CPIAUCSL', sign: -1, scale: 1 },
      { id: 'M2SL', sign: 1, scale: 100 },
      { id: 'VIXCLS', sign: -1, scale: 5 },
    ],
  },
  glassnode: { assets: ['BTC', 'ETH'], metrics: ['sopr', 'mvrv', 'exchange_netflow'] },
  news: { feeds: [1, 2, 3, 4, 5].map((i) => `http://127.0.0.1:9/feed${i}`) },
};

function gc(): void {
  setFlagsFromString('--expose_gc');
  (runInNewContext('gc') as () => void)();
}

/** A fetch answering every provider in its documented shape, at virtual time `now()`. */
function fakeFetch(now: () => number, calls: Map<string, number>): typeof fetch {
  let item = 0;
  return (async (input: string | URL | Request) => {
    const url = String(input);
    const t = now();
    const host = url.includes('/fng/')
      ? 'fearGreed'
      : url.includes('/fred/')
        ? 'fred'
        : url.includes('/v1/metrics/')
          ? 'glassnode'
          : url.includes('/chat/completions')
            ? 'grok'
            : 'news';
    const key = `${host}|${Math.floor(t / DAY)}`;
    calls.set(key, (calls.get(key) ?? 0) + 1);
    const body =
      host === 'fearGreed'
        ? fearGreedBody([{ value: 40 + (Math.floor(t / DAY) % 30), timestamp: Math.floor(t / DAY) * 86_400 }])
        : host === 'fred'
          ? fredBody([
              {
                date: '2026-10-01',
                value: String(5 + (t % 7) / 100),
                released: new Date(Math.floor(t / DAY) * DAY).toISOString().slice(0, 10),
              },
              { date: '2026-09-01', value: '5.00', released: '1970-01-01' },
            ])
          : host === 'glassnode'
            ? JSON.stringify(
                Array.from({ length: 30 }, (_, i) => ({
                  t: (Math.floor(t / DAY) - 30 + i) * 86_400,
                  v: 1 + Math.sin(i) / 50,
                })),
              )
            : host === 'grok'
              ? grokBody(
                  JSON.stringify({
                    assets: [
                      { asset: 'BTC', score: 0.1, confidence: 0.6 },
                      { asset: 'ETH', score: -0.1, confidence: 0.5 },
                    ],
                  }),
                )
              : rssBody(
                  Array.from({ length: 5 }, () => {
                    item++;
                    return {
                      title: `Bitcoin and Ethereum headline ${item}: markets rally`,
                      date: new Date(Math.max(0, t - 60_000)).toISOString(),
                      guid: `g${item}`,
                    };
                  }),
                );
    return new Response(body, { status: 200 });
  }) as typeof fetch;
}

export interface TierCalls {
  readonly tier: Tier;
  /** Per provider: the most calls on any simulated day, and the budget. */
  readonly providers: Record<string, { maxCallsPerDay: number; budget: number }>;
  readonly observations: number;
  readonly cacheEntries: number;
  readonly bookObservations: number;
  readonly bookBytes: number;
}

/** A week of polling for one tier in virtual time; the book is fed and pruned as a session would. */
export async function simulatePolling(tier: Tier, days: number): Promise<TierCalls> {
  const scheduler = new VirtualTimeScheduler(undefined, 0);
  const calls = new Map<string, number>();
  const cache = new TtlCache<true>();
  gc();
  const heapBefore = process.memoryUsage().heapUsed;
  const book = new IntelBook();
  let observations = 0;
  const source$ = makeIntelSources({
    providers: BENCH_PROVIDERS,
    tier,
    env: { XAI_API_KEY: 'bench', FRED_API_KEY: 'bench', GLASSNODE_API_KEY: 'bench' },
    scheduler,
    fetch: fakeFetch(() => scheduler.now(), calls),
    random: () => 0.5,
    cache,
  });
  const subscription = source$.subscribe((e: IntelEvent) => {
    if (e.kind !== 'intel') return;
    observations++;
    book.add(e);
  });
  // Advance a minute at a time; between steps the fake fetches' promises settle.
  for (let t = 0; t < days * DAY; t += 60_000) {
    scheduler.maxFrames = t;
    scheduler.flush();
    await new Promise((resolve) => setImmediate(resolve));
    if (t % 3_600_000 === 0) book.prune(t);
  }
  try {
    subscription.unsubscribe();
  } catch (err) {
    throw new Error(`simulatePolling(${tier}): ${String((err as { errors?: unknown[] }).errors?.map(String) ?? err)}`);
  }
  gc();
  const bookBytes = process.memoryUsage().heapUsed - heapBefore;
  const providers: TierCalls['providers'] = {};
  for (const plan of planProviders(BENCH_PROVIDERS, tier)) {
    let max = 0;
    for (const [key, n] of calls) if (key.startsWith(`${plan.provider}|`)) max = Math.max(max, n);
    providers[plan.provider] = { maxCallsPerDay: max, budget: plan.budget };
  }
  return { tier, providers, observations, cacheEntries: cache.size, bookObservations: book.size, bookBytes };
}

/**
 * What the as-of join adds per bar: a year of 5m bars pushed through `joinIntel` of four sources
 * (the book loaded at subscription) against the same bars through a plain map. CPU time of this
 * process (process.cpuUsage), so other processes on a shared machine do not count; wall time too.
 */
export function benchAsOfJoin(): {
  cpuNsPerBar: number;
  wallNsPerBar: number;
  loadCpuNsPerObservation: number;
  bars: number;
  observations: number;
} {
  const bars = randomWalkBars(105_120, { seed: 3 });
  const start = bars[0]!.tsOpen;
  const end = bars.at(-1)!.tsEvent;
  const intel: IntelObservation[] = [];
  const add = (source: IntelObservation['source'], metric: string, asset: string | null, every: number) => {
    for (let t = start, i = 0; t <= end; t += every, i++)
      intel.push({
        kind: 'intel',
        source,
        provider: 'generated',
        metric,
        asset,
        score: Math.sin(i / 5),
        confidence: 0.8,
        tsObserved: t,
        tsInit: t,
        ...(source === 'news' ? { ref: `${metric}${i}` } : {}),
      });
  };
  add('sentiment', 'llm', 'BTC', 15 * 60_000);
  add('sentiment', 'fng', null, DAY);
  for (const m of ['sopr', 'mvrv', 'exchange_netflow']) add('onchain', m, 'BTC', DAY);
  for (const s of ['DFF', 'CPIAUCSL', 'M2SL', 'VIXCLS']) add('macro', s, null, 30 * DAY);
  for (let f = 0; f < 5; f++) add('news', `feed${f}`, 'BTC', 20 * 60_000);
  const run = (withJoin: boolean): { cpu: number; wall: number; load: number } => {
    let sink = 0;
    const bars$ = new Subject<Bar>();
    const load0 = process.cpuUsage();
    bars$
      .pipe(
        withJoin
          ? joinIntel(from(intel), { sources: ['sentiment', 'onchain', 'macro', 'news'] })
          : map((b): unknown[] => [b]),
        map((x: readonly unknown[]) => x.length),
      )
      .subscribe((n) => {
        sink += n;
      });
    const load = process.cpuUsage(load0).user * 1000;
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    for (const b of bars) bars$.next(b);
    bars$.complete();
    const wall = Number(process.hrtime.bigint() - t0);
    const cpu = process.cpuUsage(c0).user * 1000;
    if (sink === 0) throw new Error('benchAsOfJoin: nothing came out');
    return { cpu, wall, load };
  };
  for (let i = 0; i < 2; i++) {
    run(true);
    run(false);
  }
  const joined: { cpu: number; wall: number; load: number }[] = [];
  const plain: { cpu: number; wall: number; load: number }[] = [];
  for (let i = 0; i < 5; i++) {
    joined.push(run(true));
    plain.push(run(false));
  }
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[2]!;
  return {
    cpuNsPerBar: (median(joined.map((r) => r.cpu)) - median(plain.map((r) => r.cpu))) / bars.length,
    wallNsPerBar: (median(joined.map((r) => r.wall)) - median(plain.map((r) => r.wall))) / bars.length,
    loadCpuNsPerObservation: median(joined.map((r) => r.load)) / intel.length,
    bars: bars.length,
    observations: intel.length,
  };
}

export async function benchIntelligence(
  line: (label: string, value: string) => void,
): Promise<Record<string, number | string>> {
  const out: Record<string, number | string> = {};
  process.stdout.write(
    `intelligence: as-of join per bar (a year of 5m bars, 4 sources, generated observations; load average ${require('node:os').loadavg()[0].toFixed(1)})\n`,
  );
  const join = benchAsOfJoin();
  line('as-of join added per bar, CPU time', `${(join.cpuNsPerBar / 1000).toFixed(2)} µs (target ≤ 2 µs; median of 5)`);
  line('  same, wall time (shared machine)', `${(join.wallNsPerBar / 1000).toFixed(2)} µs`);
  line(
    '  adding one observation, CPU time',
    `${(join.loadCpuNsPerObservation / 1000).toFixed(2)} µs (${join.observations} observations)`,
  );
  out['asOfJoinCpuUsPerBar'] = Number((join.cpuNsPerBar / 1000).toFixed(3));
  out['asOfJoinWallUsPerBar'] = Number((join.wallNsPerBar / 1000).toFixed(3));
  process.stdout.write(
    'intelligence: polling in virtual time, real drivers, generated replies (a day per tier, a week for growth)\n',
  );
  for (const tier of TIERS) {
    const days = tier === 'growth' ? 7 : 1;
    const week = await simulatePolling(tier, days);
    const text = Object.entries(week.providers)
      .map(([p, c]) => `${p} ${c.maxCallsPerDay}/${c.budget}`)
      .join(', ');
    line(`${tier}: max calls/day vs budget`, text);
    for (const [p, c] of Object.entries(week.providers))
      out[`${tier}.${p}.callsPerDay`] = `${c.maxCallsPerDay}/${c.budget}`;
    if (tier === 'growth') {
      line(
        'growth: after a week of polling',
        `book ${week.bookObservations} observations held (${week.observations} received), heap +${(week.bookBytes / 1024).toFixed(0)} KiB; cache ${week.cacheEntries} entries`,
      );
      out['growth.weekBookKiB'] = Math.round(week.bookBytes / 1024);
      out['growth.weekBookObservations'] = week.bookObservations;
      out['growth.weekCacheEntries'] = week.cacheEntries;
    }
  }
  return out;
}
