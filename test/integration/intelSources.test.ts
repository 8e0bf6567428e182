/**
 * The real intelligence clients (fetch, the polling driver, each provider's parser) against a
 * loopback server answering in each API's documented shapes — and with its failures.
 */
import { deepStrictEqual, equal, ok } from 'node:assert/strict';
import type { Observable, Subscription } from 'rxjs';
import type { IntelEvent, IntelObservation, IntelProblem } from '../../operators/intelligence';
import { makeIntelSources, planProviders, redact, retryAfterMs } from '../../sources/intel';
import { makeFearGreedSource } from '../../sources/intel/fearGreed';
import { makeFredSource } from '../../sources/intel/fred';
import { makeGlassnodeSource } from '../../sources/intel/glassnode';
import { makeGrokSource } from '../../sources/intel/grok';
import { extractCoins, makeNewsSource } from '../../sources/intel/news';
import { eventually } from '../support/eventually';
import {
  atomBody,
  fearGreedBody,
  fredBody,
  grokBody,
  rssBody,
  startIntelServer,
  type IntelServer,
} from '../support/intelServer';

const DAY = 86_400_000;
const FAST = {
  everyMs: 3_600_000,
  dailyBudget: 100,
  maxRetries: 2,
  backoff: { initialDelayMs: 10, maxDelayMs: 50, jitter: 0.5 },
};

describe('intelligence sources against a local API server', function () {
  this.timeout(20_000);
  let server: IntelServer;
  let subscription: Subscription | undefined;
  const events: IntelEvent[] = [];
  const observations = (): IntelObservation[] => events.filter((e): e is IntelObservation => e.kind === 'intel');
  const problems = (): IntelProblem[] => events.filter((e): e is IntelProblem => e.kind === 'intel-problem');
  const collect = (source$: Observable<IntelEvent>): void => {
    subscription = source$.subscribe({
      next: (e) => events.push(e),
      error: (err) =>
        events.push({
          kind: 'intel-problem',
          source: 'news',
          provider: 'test',
          code: 'STREAM_ERROR',
          detail: String(err),
          tsEvent: 0,
        }),
    });
  };

  beforeEach(async () => {
    server = await startIntelServer();
    events.length = 0;
  });
  afterEach(async () => {
    subscription?.unsubscribe();
    subscription = undefined;
    await server.close();
  });

  it('Fear & Greed: one market-wide sentiment per point, observed at its timestamp', async () => {
    server.script('/fng/', {
      body: fearGreedBody([
        { value: 80, timestamp: 1_764_547_200 },
        { value: 20, timestamp: 1_764_460_800 },
      ]),
    });
    collect(makeFearGreedSource({ ...FAST, baseUrl: server.url }));
    await eventually(() => equal(observations().length, 2));
    const [today, yesterday] = observations();
    deepStrictEqual([today!.score, today!.tsObserved, today!.asset, today!.raw], [0.6, 1_764_547_200_000, null, 80]);
    equal(yesterday!.score, -0.6);
    equal(server.seen[0]!.url, '/fng/?limit=2&format=json');
  });

  it('FRED: the latest change scored by its sign, observed at the end of its release day; the key stays out of every report', async () => {
    server.script(
      '/fred/series/observations',
      {
        body: fredBody([
          { date: '2026-10-01', value: '5.50', released: '2026-11-13' },
          { date: '2026-09-01', value: '5.25', released: '2026-10-10' },
          { date: '2026-08-01', value: '.', released: '2026-09-11' },
        ]),
      },
      {
        status: 400,
        body: '{"error_code":400,"error_message":"Bad Request.  The value for variable api_key is not registered."}',
      },
    );
    const secret = 'fredsecret0123456789abcdef012345';
    collect(
      makeFredSource({
        ...FAST,
        everyMs: 60_000,
        baseUrl: server.url,
        apiKey: secret,
        series: [
          { id: 'DFF', sign: -1, scale: 0.25 },
          { id: 'VIXCLS', sign: -1, scale: 5 },
        ],
      }),
    );
    await eventually(() => ok(observations().length >= 1 && problems().length >= 1));
    const dff = observations()[0]!;
    equal(dff.metric, 'DFF');
    ok(Math.abs(dff.score - -Math.tanh(1)) < 1e-12, `rate up 0.25 → bearish, got ${dff.score}`);
    equal(dff.tsObserved, Date.parse('2026-11-14T00:00:00Z') - 1);
    ok(server.seen[0]!.url.includes(`api_key=${secret}`), 'the key is sent');
    const refused = problems()[0]!;
    equal(refused.code, 'HTTP_4XX');
    ok(refused.detail.includes('api_key=***'), refused.detail);
    ok(!JSON.stringify(events).includes(secret), 'the key never appears in what the source reports');
    equal(redact(`x?series_id=A&api_key=${secret}&b=1`), 'x?series_id=A&api_key=***&b=1');
  });

  it('Glassnode-style: the key in X-Api-Key, only complete days, observed when the day ends', async () => {
    const now = Date.now();
    const today = Math.floor(now / DAY) * DAY;
    const points = [3, 2, 1, 0].map((d) => ({ t: (today - d * DAY) / 1000, v: d === 0 ? 9 : 1.02 }));
    server.script('/v1/metrics/indicators/sopr', { body: JSON.stringify(points) });
    server.script('/v1/metrics/market/mvrv', { body: '[{"t": 1, "v": "high"}]' });
    collect(
      makeGlassnodeSource({
        ...FAST,
        baseUrl: server.url,
        apiKey: 'gn-key',
        assets: ['BTC'],
        metrics: ['sopr', 'mvrv'],
      }),
    );
    await eventually(() => ok(observations().length === 1 && problems().length === 1));
    const sopr = observations()[0]!;
    deepStrictEqual([sopr.asset, sopr.metric, sopr.raw, sopr.tsObserved], ['BTC', 'sopr', 1.02, today]);
    ok(sopr.score > 0.3, 'SOPR above 1 is read as bullish');
    equal(server.seen[0]!.headers['x-api-key'], 'gn-key');
    ok(!server.seen[0]!.url.includes('gn-key'));
    equal(problems()[0]!.code, 'MALFORMED');
    ok(/point \[0\] needs numeric t and v/.test(problems()[0]!.detail));
  });

  it('Grok: asks for structured JSON per asset; a valid answer is a signal, an invalid or cut-off one a dead letter', async () => {
    const good = JSON.stringify({
      assets: [
        { asset: 'BTC', score: 0.4, confidence: 0.7 },
        { asset: 'ETH', score: -0.2, confidence: 0.5 },
      ],
    });
    server.script(
      '/v1/chat/completions',
      { body: grokBody(good) },
      { body: grokBody('{"assets": [{"asset": "BTC", "score": 4, "confidence": 0.7}]}') },
      { body: grokBody('{"assets": [{"asset": "BTC", "sco', 'length') },
      { body: grokBody('Bitcoin looks bullish to me!') },
    );
    const grok = (): Observable<IntelEvent> =>
      makeGrokSource({ ...FAST, baseUrl: server.url, apiKey: 'xai-secret', assets: ['BTC', 'ETH'] });
    collect(grok());
    await eventually(() => equal(observations().length, 2));
    deepStrictEqual(
      observations().map((o) => [o.asset, o.score, o.confidence, o.source, o.provider]),
      [
        ['BTC', 0.4, 0.7, 'sentiment', 'grok'],
        ['ETH', -0.2, 0.5, 'sentiment', 'grok'],
      ],
    );
    const request = server.seen[0]!;
    equal(request.method, 'POST');
    equal(request.headers.authorization, 'Bearer xai-secret');
    const sent = JSON.parse(request.body) as {
      response_format: { type: string; json_schema: { strict: boolean } };
      model: string;
    };
    deepStrictEqual(
      [sent.response_format.type, sent.response_format.json_schema.strict, sent.model],
      ['json_schema', true, 'grok-3-mini'],
    );
    for (let i = 0; i < 3; i++) {
      subscription!.unsubscribe();
      collect(grok());
      await eventually(() => equal(problems().length, i + 1));
    }
    deepStrictEqual(
      problems().map((p) => p.code),
      ['MALFORMED', 'MALFORMED', 'MALFORMED'],
    );
    ok(/assets.0.score/.test(problems()[0]!.detail), problems()[0]!.detail);
    ok(/incomplete \(finish_reason: length\)/.test(problems()[1]!.detail));
    ok(/not JSON/.test(problems()[2]!.detail));
    equal(observations().length, 2, 'no signal from a dead letter');
    ok(!JSON.stringify(events).includes('xai-secret'));
  });

  it('news: RSS and Atom items scored by VADER with the coins they name, each item once', async () => {
    server.script('/rss', {
      body: rssBody([
        { title: 'Bitcoin ETF approved, analysts expect a strong rally', date: '2026-12-01T10:00:00Z', guid: 'a1' },
        { title: 'Exchange hacked: Ethereum and Solana funds stolen', date: '2026-12-01T11:00:00Z', guid: 'a2' },
        { title: 'Regulators meet on Tuesday', date: '2026-12-01T12:00:00Z', guid: 'a3' },
      ]),
    });
    server.script('/atom', {
      body: atomBody([
        { title: 'XRP wins its court case, great news for holders', date: '2026-12-01T09:30:00Z', id: 'urn:x1' },
      ]),
    });
    collect(makeNewsSource({ ...FAST, feeds: [`${server.url}/rss`, `${server.url}/atom`] }));
    await eventually(() => equal(observations().length, 5));
    const by = (asset: string | null) => observations().find((o) => o.asset === asset)!;
    ok(by('BTC').score > 0.3, `BTC ${by('BTC').score}`);
    ok(by('ETH').score < -0.3 && by('SOL').score === by('ETH').score);
    equal(by(null).metric, 'headline');
    equal(by('BTC').tsObserved, Date.parse('2026-12-01T10:00:00Z'));
    ok(by('XRP').score > 0.3);
    ok(by('XRP').provider.startsWith('rss:127.0.0.1'));
    deepStrictEqual(extractCoins('ETH/BTC ratio and dogecoin'), ['BTC', 'ETH', 'DOGE']);
    deepStrictEqual(extractCoins('Bethany eats bread'), [], 'whole words only');
  });

  it('429 with Retry-After: waits what the provider says, then asks again', async () => {
    server.script(
      '/fng/',
      { status: 429, headers: { 'retry-after': '1' }, body: '{"error":"Too Many Requests"}' },
      { body: fearGreedBody([{ value: 55, timestamp: 1_764_547_200 }]) },
    );
    collect(makeFearGreedSource({ ...FAST, baseUrl: server.url }));
    await eventually(() => equal(observations().length, 1), { timeoutMs: 10_000 });
    const limited = problems()[0]!;
    deepStrictEqual([limited.code, limited.retryInMs], ['HTTP_429', 1000]);
    equal(server.seen.length, 2);
    equal(retryAfterMs('Wed, 21 Oct 2015 07:28:10 GMT', Date.parse('Wed, 21 Oct 2015 07:28:00 GMT')), 10_000);
    equal(retryAfterMs('soon', 0), undefined);
  });

  it('5xx, timeouts and a body cut off mid-way are retried with backoff; after the last retry the source gives up until the next poll', async () => {
    server.script(
      '/fng/',
      { status: 503, body: 'upstream down' },
      { hang: true },
      { truncate: 40, body: fearGreedBody([{ value: 60, timestamp: 1 }]) },
    );
    collect(makeFearGreedSource({ ...FAST, baseUrl: server.url, timeoutMs: 300 }));
    await eventually(() => ok(problems().some((p) => p.code === 'GAVE_UP')), { timeoutMs: 10_000 });
    deepStrictEqual(
      problems().map((p) => p.code),
      ['HTTP_5XX', 'TIMEOUT', 'NETWORK', 'GAVE_UP'],
    );
    ok(
      problems()
        .slice(0, 2)
        .every((p) => p.retryInMs !== undefined && p.retryInMs >= 5 && p.retryInMs <= 50),
      'backoff with jitter inside its bounds',
    );
    equal(observations().length, 0);
  });

  it('a complete reply that is truncated JSON is a dead letter, and the stream goes on', async () => {
    server.script('/fng/', { body: fearGreedBody([{ value: 60, timestamp: 1 }]).slice(0, 30) });
    collect(makeFearGreedSource({ ...FAST, baseUrl: server.url }));
    await eventually(() => equal(problems().length, 1));
    equal(problems()[0]!.code, 'MALFORMED');
    ok(/not JSON/.test(problems()[0]!.detail));
    ok(!subscription!.closed, 'a dead letter does not end the source');
  });

  it('stops calling when the day’s budget is spent, and says so once', async () => {
    server.script('/fred/series/observations', { body: fredBody([]) });
    collect(
      makeFredSource({
        ...FAST,
        dailyBudget: 2,
        baseUrl: server.url,
        apiKey: 'k',
        series: ['A', 'B', 'C', 'D'].map((id) => ({ id, sign: 1 as const, scale: 1 })),
      }),
    );
    await eventually(() => ok(problems().length === 1 && server.seen.length === 2));
    equal(problems()[0]!.code, 'BUDGET_EXHAUSTED');
    ok(/2 calls today used up/.test(problems()[0]!.detail));
    equal(server.seen.length, 2, 'two of the four series were asked');
  });

  it('takes keys from the environment only and names a missing one; plans calls within each tier’s budget', () => {
    const providers = {
      grok: { assets: ['BTC'] },
      fred: { series: [{ id: 'DFF', sign: -1 as const, scale: 0.25 }] },
      news: { feeds: ['http://127.0.0.1:1/rss'] },
    };
    let message = '';
    try {
      makeIntelSources({ providers, tier: 'growth', env: {} });
    } catch (err) {
      message = (err as Error).message;
    }
    equal(message, 'intelligence.providers.grok needs the environment variable XAI_API_KEY (not set)');
    for (const tier of ['survival', 'growth', 'acceleration', 'institutional', 'whale'] as const) {
      for (const plan of planProviders(providers, tier))
        ok(
          plan.plannedCallsPerDay <= plan.budget,
          `${tier} ${plan.provider}: ${plan.plannedCallsPerDay} > ${plan.budget}`,
        );
    }
    deepStrictEqual(
      planProviders(providers, 'survival').map((p) => [p.provider, p.budget, p.plannedCallsPerDay]),
      [
        ['grok', 10, 10],
        ['fred', 24, 24],
        ['news', 288, 288],
      ],
    );
  });
});
