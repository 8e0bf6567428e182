/**
 * The one HTTP polling driver behind every intelligence source: a schedule, a TTL cache, a daily
 * call budget, a timeout per request, retries with backoff and jitter, the provider's 429 with
 * Retry-After — and every problem reported as a value, never as an error that would end the
 * stream. A reply that does not parse is a dead letter (`MALFORMED`), not a signal.
 */
import {
  asyncScheduler,
  concat,
  defer,
  EMPTY,
  exhaustMap,
  from,
  mergeMap,
  of,
  timer,
  type Observable,
  type SchedulerLike,
} from 'rxjs';
import { backoffDelayMs, type BackoffConfig } from '../../operators/backoff';
import { Bot4Error } from '../../operators/errors';
import { CACHE_TTL_MS, DailyBudget, TtlCache, type CacheTier } from '../../operators/intelCache';
import type { IntelEvent, IntelObservation, IntelProblem, IntelSource } from '../../operators/intelligence';

/** A reply that came back but does not say what the API documents. */
export class MalformedReply extends Bot4Error<'INTEL_MALFORMED'> {
  constructor(message: string, options?: { readonly cause?: unknown }) {
    super('INTEL_MALFORMED', 'source', message, options);
  }
}

/** One HTTP request of a poll. */
export interface PollRequest {
  /** Full URL (may hold a key in its query: it is never logged, see `redact`). */
  readonly url: string;
  readonly method?: 'GET' | 'POST';
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string;
  /** Cache key (default: method + URL + body). */
  readonly key?: string;
}

export interface PollConfig {
  readonly source: IntelSource;
  readonly provider: string;
  /** Requests of one poll (a feed list, one per series…). */
  readonly requests: readonly PollRequest[];
  /** Turns a 200 body into observations; throws MalformedReply (or anything) when it cannot. */
  readonly parse: (
    body: string,
    request: PollRequest,
    tsInit: number,
  ) => readonly IntelObservation[] | Promise<readonly IntelObservation[]>;
  /** Poll period, ms. */
  readonly everyMs: number;
  /** Cache tier of the answers: an answer younger than its TTL is not asked again. */
  readonly cacheTier: CacheTier;
  /** Calls allowed per UTC day (retries count). */
  readonly dailyBudget: number;
  /** Timeout of one request, ms. Default 10000. */
  readonly timeoutMs?: number;
  /** Retries after a timeout, network error, 5xx or 429. Default 3. */
  readonly maxRetries?: number;
  /** Backoff between retries. Default 1 s doubling to 60 s, ±50 % jitter. */
  readonly backoff?: BackoffConfig;
  /** Longest Retry-After honoured, ms; a longer one gives up until the next poll. Default 1 h. */
  readonly maxRetryAfterMs?: number;
  /** Clock and timers. Default asyncScheduler. */
  readonly scheduler?: SchedulerLike;
  /** The HTTP client (global fetch by default). */
  readonly fetch?: typeof fetch;
  /** Uniform [0, 1) draws for the jitter. Default Math.random. */
  readonly random?: () => number;
  /** Shared cache (several sources of one process); default one per subscription. */
  readonly cache?: TtlCache<true>;
}

type Outcome =
  | { readonly kind: 'ok'; readonly events: readonly IntelObservation[] }
  | { readonly kind: 'final'; readonly problem: IntelProblem }
  | { readonly kind: 'retry'; readonly problem: IntelProblem; readonly retryAfterMs?: number };

/**
 * Polls `config.requests` every `everyMs` (the first poll at once) and emits what they return.
 *
 * ```
 * timer:  t--------t--------t----
 * events: --oo-------p--o------- (o observation, p problem such as HTTP_429 with its retryInMs)
 * ```
 */
export function pollProvider(config: PollConfig): Observable<IntelEvent> {
  const scheduler = config.scheduler ?? asyncScheduler;
  const doFetch = config.fetch ?? fetch;
  const timeoutMs = config.timeoutMs ?? 10_000;
  const maxRetries = config.maxRetries ?? 3;
  const backoff = config.backoff ?? { initialDelayMs: 1000, maxDelayMs: 60_000, jitter: 0.5 };
  const maxRetryAfter = config.maxRetryAfterMs ?? 3_600_000;
  const random = config.random ?? Math.random;
  const ttl = CACHE_TTL_MS[config.cacheTier];
  if (!(config.everyMs > 0)) throw new RangeError(`${config.provider}: everyMs must be > 0, found ${config.everyMs}`);

  return defer(() => {
    // State of this subscription.
    const cache = config.cache ?? new TtlCache<true>();
    const budget = new DailyBudget(config.dailyBudget);
    let budgetReported = Number.NaN;
    const problem = (code: string, detail: string, retryInMs?: number): IntelProblem => ({
      kind: 'intel-problem',
      source: config.source,
      provider: config.provider,
      code,
      detail,
      ...(retryInMs !== undefined ? { retryInMs } : {}),
      tsEvent: scheduler.now(),
    });

    const callOnce = async (request: PollRequest): Promise<Outcome> => {
      const where = `${config.provider} ${redact(request.url)}`;
      let response: Response;
      try {
        response = await doFetch(request.url, {
          method: request.method ?? 'GET',
          headers: {
            accept: 'application/json, application/rss+xml, application/atom+xml, text/xml',
            ...request.headers,
          },
          ...(request.body !== undefined ? { body: request.body } : {}),
          signal: AbortSignal.timeout(timeoutMs),
        });
      } catch (err) {
        return isTimeout(err)
          ? { kind: 'retry', problem: problem('TIMEOUT', `${where}: no answer within ${timeoutMs} ms`) }
          : { kind: 'retry', problem: problem('NETWORK', `${where}: ${errorText(err)}`) };
      }
      let body: string;
      try {
        body = await response.text();
      } catch (err) {
        return isTimeout(err)
          ? { kind: 'retry', problem: problem('TIMEOUT', `${where}: body not complete within ${timeoutMs} ms`) }
          : { kind: 'retry', problem: problem('NETWORK', `${where}: body cut off (${errorText(err)})`) };
      }
      if (response.status === 429) {
        const after = retryAfterMs(response.headers.get('retry-after'), scheduler.now());
        return {
          kind: 'retry',
          problem: problem(
            'HTTP_429',
            `${where}: rate limited (Retry-After: ${response.headers.get('retry-after') ?? 'none'})`,
          ),
          ...(after !== undefined ? { retryAfterMs: after } : {}),
        };
      }
      if (response.status >= 500)
        return { kind: 'retry', problem: problem('HTTP_5XX', `${where}: HTTP ${response.status} ${snippet(body)}`) };
      if (response.status !== 200)
        return { kind: 'final', problem: problem('HTTP_4XX', `${where}: HTTP ${response.status} ${snippet(body)}`) };
      try {
        const events = await config.parse(body, request, scheduler.now());
        return { kind: 'ok', events };
      } catch (err) {
        return {
          kind: 'final',
          problem: problem('MALFORMED', `${where}: ${errorText(err)} — dead letter: ${snippet(body)}`),
        };
      }
    };

    const attempt = (request: PollRequest, key: string, n: number): Observable<IntelEvent> =>
      defer(() => {
        const now = scheduler.now();
        if (!budget.take(now)) {
          const day = Math.floor(now / 86_400_000);
          if (budgetReported === day) return EMPTY;
          budgetReported = day;
          return of(
            problem(
              'BUDGET_EXHAUSTED',
              `${config.provider}: ${budget.limit} calls today used up; next calls tomorrow (UTC)`,
            ),
          );
        }
        return from(callOnce(request));
      }).pipe(
        mergeMap((o: Outcome | IntelProblem): Observable<IntelEvent> => {
          if (o.kind === 'intel-problem') return of(o);
          if (o.kind === 'ok') {
            cache.set(key, true, ttl, scheduler.now(), 0);
            return from(o.events);
          }
          if (o.kind === 'final') return of(o.problem);
          if (n >= maxRetries)
            return of(
              o.problem,
              problem('GAVE_UP', `${config.provider}: ${n + 1} attempts failed; next poll in ${config.everyMs} ms`),
            );
          if (o.retryAfterMs !== undefined && o.retryAfterMs > maxRetryAfter)
            return of(
              o.problem,
              problem(
                'GAVE_UP',
                `${config.provider}: Retry-After ${o.retryAfterMs} ms exceeds ${maxRetryAfter} ms; next poll`,
              ),
            );
          const wait = o.retryAfterMs ?? backoffDelayMs(n + 1, backoff, random);
          return concat(
            of({ ...o.problem, retryInMs: wait }),
            timer(wait, scheduler).pipe(mergeMap(() => attempt(request, key, n + 1))),
          );
        }),
      );

    const poll = (): Observable<IntelEvent> =>
      from(config.requests).pipe(
        mergeMap((request) => {
          const key = request.key ?? `${request.method ?? 'GET'} ${request.url} ${request.body ?? ''}`;
          if (cache.get(key, scheduler.now())) return EMPTY;
          return attempt(request, key, 0);
        }, 4),
      );

    return timer(0, config.everyMs, scheduler).pipe(exhaustMap(poll));
  });
}

/**
 * Retry-After as ms from now: delta-seconds or an HTTP date (RFC 9110 §10.2.3); undefined when
 * absent or unreadable (then backoff decides).
 */
export function retryAfterMs(header: string | null, now: number): number | undefined {
  if (header === null) return undefined;
  const text = header.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** The URL without its query string values of keys: `api_key=…` → `api_key=***`. */
export function redact(url: string): string {
  return url.replace(/([?&](?:api_key|apikey|key|token|access_token)=)[^&#]*/gi, '$1***');
}

function isTimeout(err: unknown): boolean {
  const name = (err as { name?: string } | null)?.name;
  return name === 'TimeoutError' || name === 'AbortError';
}

function errorText(err: unknown): string {
  const e = err as { message?: string; cause?: { code?: string; message?: string } };
  const cause = e?.cause?.code ?? e?.cause?.message;
  return `${e?.message ?? String(err)}${cause ? ` (${cause})` : ''}`;
}

function snippet(body: string): string {
  const flat = body.replace(/\s+/g, ' ').trim();
  return flat.length > 120 ? `${flat.slice(0, 120)}…` : flat;
}
