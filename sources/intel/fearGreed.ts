/**
 * The Crypto Fear & Greed index (alternative.me, no key): one market-wide sentiment value a day.
 * Documented reply: `{ "name": "Fear and Greed Index", "data": [{ "value": "40",
 * "value_classification": "Fear", "timestamp": "1551157200", "time_until_update": "68499" }],
 * "metadata": { "error": null } }` — `timestamp` is the publish time in Unix seconds.
 */
import type { Observable } from 'rxjs';
import type { IntelEvent, IntelObservation } from '../../operators/intelligence';
import { MalformedReply, pollProvider, type PollConfig } from './poll';

export const FEAR_GREED_BASE_URL = 'https://api.alternative.me';

export interface FearGreedSourceConfig
  extends Omit<PollConfig, 'source' | 'provider' | 'requests' | 'parse' | 'cacheTier'> {
  readonly baseUrl?: string;
}

/** Fear & Greed as a sentiment observation: score (value − 50) / 50, observed at its timestamp. */
export function makeFearGreedSource(config: FearGreedSourceConfig): Observable<IntelEvent> {
  const base = (config.baseUrl ?? FEAR_GREED_BASE_URL).replace(/\/$/, '');
  return pollProvider({
    ...config,
    source: 'sentiment',
    provider: 'fear-greed',
    cacheTier: 'warm',
    requests: [{ url: `${base}/fng/?limit=2&format=json` }],
    parse: parseFearGreed,
  });
}

export function parseFearGreed(body: string, _request: unknown, tsInit: number): IntelObservation[] {
  const json = parseJson(body);
  const error = (json as { metadata?: { error?: unknown } }).metadata?.error;
  if (error !== undefined && error !== null) throw new MalformedReply(`provider error: ${String(error)}`);
  const data = (json as { data?: unknown }).data;
  if (!Array.isArray(data) || data.length === 0) throw new MalformedReply('expected a non-empty "data" array');
  return data.map((item, i) => {
    const value = Number((item as { value?: unknown }).value);
    const ts = Number((item as { timestamp?: unknown }).timestamp);
    if (!(value >= 0 && value <= 100))
      throw new MalformedReply(
        `data[${i}].value must be 0..100, found ${JSON.stringify((item as { value?: unknown }).value)}`,
      );
    if (!(ts > 0))
      throw new MalformedReply(
        `data[${i}].timestamp must be Unix seconds, found ${JSON.stringify((item as { timestamp?: unknown }).timestamp)}`,
      );
    return {
      kind: 'intel',
      source: 'sentiment',
      provider: 'fear-greed',
      metric: 'fng',
      asset: null,
      score: (value - 50) / 50,
      confidence: 0.8,
      // Never later than we heard of it, never earlier than published.
      tsObserved: Math.min(ts * 1000, tsInit),
      tsInit,
      raw: value,
    } satisfies IntelObservation;
  });
}

/** JSON.parse with a MalformedReply naming where the text broke (a truncated body ends early). */
export function parseJson(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch (err) {
    throw new MalformedReply(`not JSON (${(err as Error).message}; ${body.length} bytes)`, { cause: err });
  }
}
