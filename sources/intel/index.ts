/**
 * Every configured intelligence provider as one stream: keys from the environment (never logged),
 * each provider polling on its own schedule within its daily budget for the capital tier.
 */
import { merge, type Observable, type SchedulerLike } from 'rxjs';
import type { TierBudget, TtlCache } from '../../operators/intelCache';
import type { IntelEvent } from '../../operators/intelligence';
import type { Tier } from '../../operators/selectTier';
import { makeFearGreedSource } from './fearGreed';
import { makeFredSource, type FredSeries } from './fred';
import { makeGlassnodeSource, type OnchainMetric } from './glassnode';
import { makeGrokSource } from './grok';
import { makeNewsSource } from './news';

export { MalformedReply, redact, retryAfterMs } from './poll';

export type IntelProvider = 'grok' | 'fearGreed' | 'fred' | 'glassnode' | 'news';

/**
 * Default calls per UTC day per tier. Grok's are spec §3.5's analyses a day; the others stay well
 * inside the free plans (FRED: 120 requests a minute; alternative.me: no stated limit, updates daily).
 */
export const DEFAULT_BUDGETS: Readonly<Record<IntelProvider, TierBudget>> = {
  grok: { survival: 10, growth: 100, acceleration: 500, institutional: 2000, whale: 10000 },
  fearGreed: { survival: 24, growth: 48, acceleration: 96, institutional: 288, whale: 288 },
  fred: { survival: 24, growth: 96, acceleration: 96, institutional: 288, whale: 288 },
  glassnode: { survival: 50, growth: 200, acceleration: 500, institutional: 2000, whale: 5000 },
  news: { survival: 288, growth: 1440, acceleration: 2880, institutional: 5760, whale: 5760 },
};

/** Minimum poll periods: an answer is not asked again before its cache tier expires. */
const MIN_EVERY_MS: Readonly<Record<IntelProvider, number>> = {
  grok: 60_000,
  fearGreed: 300_000,
  fred: 3_600_000,
  glassnode: 300_000,
  news: 60_000,
};

interface HttpProviderConfig {
  readonly baseUrl?: string | undefined;
  readonly everyMs?: number | undefined;
  readonly timeoutMs?: number | undefined;
  readonly budget?: TierBudget | undefined;
}

export interface IntelProvidersConfig {
  readonly grok?:
    | (HttpProviderConfig & { readonly model?: string | undefined; readonly assets: readonly string[] })
    | undefined;
  readonly fearGreed?: HttpProviderConfig | undefined;
  readonly fred?: (HttpProviderConfig & { readonly series: readonly FredSeries[] }) | undefined;
  readonly glassnode?:
    | (HttpProviderConfig & { readonly assets: readonly string[]; readonly metrics: readonly OnchainMetric[] })
    | undefined;
  readonly news?: (HttpProviderConfig & { readonly feeds: readonly string[] }) | undefined;
}

export interface IntelSourcesOptions {
  readonly providers: IntelProvidersConfig;
  readonly tier: Tier;
  /** Where keys come from. Default process.env. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly scheduler?: SchedulerLike;
  readonly fetch?: typeof fetch;
  readonly random?: () => number;
  /** Retries per call (default 3) and their backoff (tests shorten it). */
  readonly maxRetries?: number;
  readonly backoff?: { readonly initialDelayMs: number; readonly maxDelayMs: number; readonly jitter?: number };
  /** One cache for every provider (default: one per provider and subscription). */
  readonly cache?: TtlCache<true>;
}

/** What one provider will do per day for a tier: its poll period, requests per poll and budget. */
export interface ProviderPlan {
  readonly provider: IntelProvider;
  readonly everyMs: number;
  readonly requestsPerPoll: number;
  readonly budget: number;
  /** Calls a day the schedule makes when every call succeeds at once. */
  readonly plannedCallsPerDay: number;
}

/**
 * The schedule of each configured provider for a tier: the configured period, or the shortest
 * whose calls fit the budget (never shorter than the provider's cache tier).
 */
export function planProviders(providers: IntelProvidersConfig, tier: Tier): ProviderPlan[] {
  const plans: ProviderPlan[] = [];
  for (const provider of Object.keys(DEFAULT_BUDGETS) as IntelProvider[]) {
    const p = providers[provider];
    if (!p) continue;
    const requestsPerPoll =
      provider === 'fred'
        ? providers.fred!.series.length
        : provider === 'glassnode'
          ? providers.glassnode!.assets.length * providers.glassnode!.metrics.length
          : provider === 'news'
            ? providers.news!.feeds.length
            : 1;
    const budget = (p.budget ?? DEFAULT_BUDGETS[provider])[tier];
    const fitting = budget > 0 ? Math.ceil((86_400_000 * requestsPerPoll) / budget) : 86_400_000;
    const everyMs = p.everyMs ?? Math.max(MIN_EVERY_MS[provider], fitting);
    plans.push({
      provider,
      everyMs,
      requestsPerPoll,
      budget,
      plannedCallsPerDay: Math.ceil(86_400_000 / everyMs) * requestsPerPoll,
    });
  }
  return plans;
}

/**
 * The configured providers as one stream of observations and problems.
 * @throws Error naming the missing variable when a keyed provider is configured without its key.
 */
export function makeIntelSources(options: IntelSourcesOptions): Observable<IntelEvent> {
  const env = options.env ?? process.env;
  const key = (name: string, provider: string): string => {
    const value = env[name];
    if (!value) throw new Error(`intelligence.providers.${provider} needs the environment variable ${name} (not set)`);
    return value;
  };
  const plans = new Map(planProviders(options.providers, options.tier).map((p) => [p.provider, p]));
  const common = (provider: IntelProvider, p: HttpProviderConfig) => ({
    everyMs: plans.get(provider)!.everyMs,
    dailyBudget: plans.get(provider)!.budget,
    ...(p.baseUrl !== undefined ? { baseUrl: p.baseUrl } : {}),
    ...(p.timeoutMs !== undefined ? { timeoutMs: p.timeoutMs } : {}),
    ...(options.scheduler ? { scheduler: options.scheduler } : {}),
    ...(options.fetch ? { fetch: options.fetch } : {}),
    ...(options.random ? { random: options.random } : {}),
    ...(options.maxRetries !== undefined ? { maxRetries: options.maxRetries } : {}),
    ...(options.backoff ? { backoff: options.backoff } : {}),
    ...(options.cache ? { cache: options.cache } : {}),
  });
  const { grok, fearGreed, fred, glassnode, news } = options.providers;
  const streams: Observable<IntelEvent>[] = [];
  if (grok)
    streams.push(
      makeGrokSource({
        ...common('grok', grok),
        apiKey: key('XAI_API_KEY', 'grok'),
        assets: grok.assets,
        ...(grok.model ? { model: grok.model } : {}),
      }),
    );
  if (fearGreed) streams.push(makeFearGreedSource(common('fearGreed', fearGreed)));
  if (fred)
    streams.push(makeFredSource({ ...common('fred', fred), apiKey: key('FRED_API_KEY', 'fred'), series: fred.series }));
  if (glassnode)
    streams.push(
      makeGlassnodeSource({
        ...common('glassnode', glassnode),
        apiKey: key('GLASSNODE_API_KEY', 'glassnode'),
        assets: glassnode.assets,
        metrics: glassnode.metrics,
      }),
    );
  if (news) streams.push(makeNewsSource({ ...common('news', news), feeds: news.feeds }));
  return merge(...streams);
}
