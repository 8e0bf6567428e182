/**
 * Macro series from FRED (St. Louis Fed): rates (DFF), inflation (CPIAUCSL), money supply (M2SL)
 * and a risk gauge (VIXCLS, free on FRED). Documented reply of `fred/series/observations`:
 * `{ "observations": [{ "realtime_start": "2021-04-13", "realtime_end": "9999-12-31",
 * "date": "2021-03-01", "value": "264.877" }, …] }`; "." is a missing value.
 *
 * `date` is the period a value describes; `realtime_start` is when that value became public. The
 * observation is stamped with the end of the `realtime_start` day (UTC): FRED gives no hour, and
 * taking the day's start would let a bar peek at a release made later that day.
 */
import type { Observable } from 'rxjs';
import type { IntelEvent, IntelObservation } from '../../operators/intelligence';
import { parseJson } from './fearGreed';
import { MalformedReply, pollProvider, type PollConfig, type PollRequest } from './poll';

export const FRED_BASE_URL = 'https://api.stlouisfed.org';

export interface FredSeries {
  readonly id: string;
  /** +1: a rise is bullish for crypto; −1: bearish. */
  readonly sign: 1 | -1;
  /** Change between the last two values that scores ±tanh(1). */
  readonly scale: number;
}

export interface FredSourceConfig extends Omit<PollConfig, 'source' | 'provider' | 'requests' | 'parse' | 'cacheTier'> {
  readonly baseUrl?: string;
  readonly apiKey: string;
  readonly series: readonly FredSeries[];
}

export function makeFredSource(config: FredSourceConfig): Observable<IntelEvent> {
  const base = (config.baseUrl ?? FRED_BASE_URL).replace(/\/$/, '');
  const byUrl = new Map<string, FredSeries>();
  const requests: PollRequest[] = config.series.map((s) => {
    const url = `${base}/fred/series/observations?series_id=${encodeURIComponent(s.id)}&api_key=${encodeURIComponent(config.apiKey)}&file_type=json&sort_order=desc&limit=3`;
    byUrl.set(url, s);
    return { url };
  });
  return pollProvider({
    ...config,
    source: 'macro',
    provider: 'fred',
    cacheTier: 'cold',
    requests,
    parse: (body, request, tsInit) => parseFred(body, byUrl.get(request.url)!, tsInit),
  });
}

/** The latest change of one series as a macro observation, observed when its latest value was released. */
export function parseFred(body: string, series: FredSeries, tsInit: number): IntelObservation[] {
  const json = parseJson(body) as { observations?: unknown; error_message?: unknown };
  if (typeof json.error_message === 'string') throw new MalformedReply(`provider error: ${json.error_message}`);
  if (!Array.isArray(json.observations)) throw new MalformedReply(`${series.id}: expected an "observations" array`);
  const valid = json.observations
    .map((o: { date?: unknown; value?: unknown; realtime_start?: unknown }, i: number) => {
      if (typeof o.date !== 'string' || typeof o.value !== 'string' || typeof o.realtime_start !== 'string')
        throw new MalformedReply(`${series.id}: observations[${i}] needs string date, value and realtime_start`);
      const released = Date.parse(`${o.realtime_start}T00:00:00Z`);
      if (Number.isNaN(released))
        throw new MalformedReply(`${series.id}: observations[${i}].realtime_start is not a date: ${o.realtime_start}`);
      return { date: o.date, value: o.value === '.' ? Number.NaN : Number(o.value), released };
    })
    .filter((o) => Number.isFinite(o.value))
    .sort((a, b) => (a.date < b.date ? 1 : -1));
  if (valid.length < 2) return [];
  const [latest, previous] = [valid[0]!, valid[1]!];
  const change = latest.value - previous.value;
  return [
    {
      kind: 'intel',
      source: 'macro',
      provider: 'fred',
      metric: series.id,
      asset: null,
      score: series.sign * Math.tanh(change / series.scale),
      confidence: 1,
      tsObserved: Math.min(latest.released + 86_400_000 - 1, tsInit),
      tsInit,
      raw: latest.value,
    },
  ];
}
