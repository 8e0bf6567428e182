/**
 * On-chain metrics from a Glassnode-style API: `GET /v1/metrics/<path>?a=BTC&i=24h` with
 * the key in the `X-Api-Key` header, answering `[{ "t": 1614556800, "v": 1.0123 }, …]` where `t`
 * is the start (Unix seconds) of the interval the value describes. A daily value is complete only
 * when its day ends, so it is observed at `t + 24 h` (or when we received it, if later).
 */
import type { Observable } from 'rxjs';
import type { IntelEvent, IntelObservation } from '../../operators/intelligence';
import { parseJson } from './fearGreed';
import { MalformedReply, pollProvider, type PollConfig, type PollRequest } from './poll';

export const GLASSNODE_BASE_URL = 'https://api.glassnode.com';

export type OnchainMetric = 'sopr' | 'nupl' | 'mvrv' | 'exchange_netflow' | 'large_transfers';

/** API path and how a value scores (bullish +). Thresholds are conventional readings, not fitted. */
const METRICS: Readonly<
  Record<OnchainMetric, { path: string; score: (last: number, series: readonly number[]) => number }>
> = {
  // SOPR above 1: coins move at a profit (demand absorbs it); below 1: capitulation.
  sopr: { path: 'indicators/sopr', score: (v) => Math.tanh((v - 1) * 20) },
  // NUPL near 0.75 is euphoria (late cycle), below 0 capitulation: lean against the extremes.
  nupl: { path: 'indicators/net_unrealized_profit_loss', score: (v) => Math.tanh((0.35 - v) * 3) },
  // MVRV above ~2.5 has marked tops, below 1 bottoms.
  mvrv: { path: 'market/mvrv', score: (v) => -Math.tanh((v - 1.75) / 1.25) },
  // Net inflow to exchanges is supply getting ready to sell: bearish, scaled by the window's typical size.
  exchange_netflow: {
    path: 'transactions/transfers_volume_exchanges_net',
    score: (v, s) => -Math.tanh(v / typical(s)),
  },
  // Whale transfers to exchanges above their usual level: bearish.
  large_transfers: {
    path: 'transactions/transfers_volume_whales_to_exchanges_sum',
    score: (v, s) => -Math.tanh((v - mean(s)) / typical(s.map((x) => x - mean(s)))),
  },
};

export interface GlassnodeSourceConfig
  extends Omit<PollConfig, 'source' | 'provider' | 'requests' | 'parse' | 'cacheTier'> {
  readonly baseUrl?: string;
  readonly apiKey: string;
  readonly assets: readonly string[];
  readonly metrics: readonly OnchainMetric[];
  /** Days of history asked per call (the window that scales flows). Default 30. */
  readonly days?: number;
}

export function makeGlassnodeSource(config: GlassnodeSourceConfig): Observable<IntelEvent> {
  const base = (config.baseUrl ?? GLASSNODE_BASE_URL).replace(/\/$/, '');
  const days = config.days ?? 30;
  const meta = new Map<string, { asset: string; metric: OnchainMetric }>();
  const requests: PollRequest[] = [];
  for (const asset of config.assets) {
    for (const metric of config.metrics) {
      const url = `${base}/v1/metrics/${METRICS[metric].path}?a=${asset}&i=24h`;
      meta.set(url, { asset, metric });
      requests.push({ url, headers: { 'X-Api-Key': config.apiKey } });
    }
  }
  return pollProvider({
    ...config,
    source: 'onchain',
    provider: 'glassnode',
    cacheTier: 'warm',
    requests,
    parse: (body, request, tsInit) => parseGlassnode(body, meta.get(request.url)!, tsInit, days),
  });
}

/** The newest complete value of one metric; older points only scale it. */
export function parseGlassnode(
  body: string,
  what: { readonly asset: string; readonly metric: OnchainMetric },
  tsInit: number,
  days = 30,
): IntelObservation[] {
  const json = parseJson(body);
  if (!Array.isArray(json)) throw new MalformedReply(`${what.metric}: expected an array of {t, v}`);
  const points = json.map((p: { t?: unknown; v?: unknown }, i: number) => {
    if (typeof p.t !== 'number' || typeof p.v !== 'number' || !Number.isFinite(p.v))
      throw new MalformedReply(`${what.metric}: point [${i}] needs numeric t and v, found ${JSON.stringify(p)}`);
    return { t: p.t * 1000, v: p.v };
  });
  // Only intervals that have ended by now are complete; keep the last `days` of them.
  const complete = points
    .filter((p) => p.t + 86_400_000 <= tsInit)
    .sort((a, b) => a.t - b.t)
    .slice(-days);
  const last = complete.at(-1);
  if (!last) return [];
  const score = METRICS[what.metric].score(
    last.v,
    complete.map((p) => p.v),
  );
  return [
    {
      kind: 'intel',
      source: 'onchain',
      provider: 'glassnode',
      metric: what.metric,
      asset: what.asset,
      score: Number.isFinite(score) ? score : 0,
      confidence: 1,
      tsObserved: last.t + 86_400_000,
      tsInit,
      raw: last.v,
    },
  ];
}

function mean(xs: readonly number[]): number {
  return xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length;
}

/** Mean absolute value (1 when all are 0, so a flat series scores 0 rather than NaN). */
function typical(xs: readonly number[]): number {
  const m = mean(xs.map(Math.abs));
  return m > 0 ? m : 1;
}
