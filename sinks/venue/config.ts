/**
 * The live venue's configuration: one zod schema (the type is inferred from it), validated once
 * with errors that name the key, what was expected and what was found — never a credential — and
 * the redaction every text the venue emits goes through.
 */
import type * as ccxt from 'ccxt';
import * as ccxtModule from 'ccxt';
import type { SchedulerLike } from 'rxjs';
import { z } from 'zod';
import { Bot4Error } from '../../operators/errors';

const STAGE = 'ccxt-venue';

export class CcxtVenueError extends Bot4Error<
  'INVALID_CONFIG' | 'UNKNOWN_SYMBOL' | 'STARTUP_FAILED' | 'AUTHENTICATION_FAILED' | 'INTERNAL'
> {
  constructor(
    code: 'INVALID_CONFIG' | 'UNKNOWN_SYMBOL' | 'STARTUP_FAILED' | 'AUTHENTICATION_FAILED' | 'INTERNAL',
    message: string,
    options?: { readonly cause?: unknown },
  ) {
    super(code, STAGE, message, options);
  }
}

const EXCHANGE_IDS: readonly string[] = ((ids: unknown): string[] =>
  Array.isArray(ids) ? ids.filter((id): id is string => typeof id === 'string') : Object.keys(ids as object))(
  ccxtModule.exchanges,
);

const SECRET_KEYS = new Set(['apiKey', 'secret', 'password', 'uid']);

const RetrySchema = z.strictObject({
  /** Re-sends of a request the exchange refused for rate or that was confirmed absent. Default 5. */
  maxRetries: z.number().int().min(0).max(50).default(5),
  /** First backoff, ms; doubles per retry. Default 250. */
  initialDelayMs: z.number().int().min(0).default(250),
  /** Longest backoff, ms (a Retry-After is honoured even when longer). Default 30000. */
  maxDelayMs: z.number().int().min(0).default(30_000),
});

const ReconcileSchema = z.strictObject({
  /** Lookups per reconciliation pass before giving up (the poller tries again later). Default 8. */
  maxAttempts: z.number().int().min(1).max(100).default(8),
  /**
   * How long after a failed submission "not found" becomes conclusive, ms. Default
   * `recvWindowMs + clockMarginMs`: after that the lost request can no longer execute.
   */
  absentAfterMs: z.number().int().min(0).optional(),
  /**
   * Continuous reconciliation: every this many ms (and soon after each order-unknown) the venue
   * reads recent trades (`fetchMyTrades`), balances and open orders, adopts trades no order of this
   * session explains (as fills, with a TRADE_ADOPTED notice) and flags balances that differ from
   * what it reported (BALANCE_DRIFT). 0 turns it off. Default 30000.
   */
  everyMs: z.number().int().min(0).default(30_000),
  /** How soon after an order-unknown a pass runs, ms. Default 1000. */
  afterUnknownMs: z.number().int().min(0).default(1_000),
});

export const CcxtVenueConfigSchema = z.strictObject({
  /** ccxt exchange id (`binance`, `kraken`…). */
  exchange: z
    .string()
    .refine((id) => EXCHANGE_IDS.includes(id), { message: 'a ccxt exchange id (see ccxtModule.exchanges)' }),
  /** API key. Never logged. The CLI reads it from the environment. */
  apiKey: z.string().min(1),
  /** API secret. Never logged. */
  secret: z.string().min(1),
  /** Passphrase, for exchanges that have one (okx, kucoin…). */
  password: z.string().min(1).optional(),
  uid: z.string().min(1).optional(),
  /** Unified symbols traded (`BTC/USDT`): start-up reconciliation, polling, cancel-all scope. */
  symbols: z.array(z.string().regex(/^[^/\s]+\/[^/\s]+$/, { message: 'a unified symbol such as BTC/USDT' })).min(1),
  /** Base URL replacing the exchange's REST hosts (testnet, proxy, local test server). */
  apiUrl: z
    .string()
    .regex(/^https?:\/\/[^/\s]+(\/\S*)?$/, { message: 'an http(s) URL' })
    .transform((url) => url.replace(/\/+$/, ''))
    .optional(),
  /** ccxt's sandbox mode (Binance spot testnet). Default false. */
  sandbox: z.boolean().default(false),
  /** Extra ccxt `options` (e.g. `{ fetchCurrencies: false }`). `maxRetriesOnFailure` is always 0. */
  ccxtOptions: z.record(z.string(), z.unknown()).default({}),
  /** ccxt's client-side rate limiter. Default true; only a benchmark turns it off. */
  enableRateLimit: z.boolean().default(true),
  /** ccxt request timeout, ms. Default 10000. */
  timeoutMs: z.number().int().min(1).default(10_000),
  /**
   * Our own deadline on every exchange call beyond `timeoutMs`, ms: ccxt's timeout covers the
   * response headers only, a body that never completes would hang forever. Default 2000.
   */
  watchdogGraceMs: z.number().int().min(0).default(2_000),
  /** Binance `recvWindow`, ms: requests older than this are refused by the exchange. Default 5000. */
  recvWindowMs: z.number().int().min(1).max(60_000).default(5_000),
  /** Allowed difference between our clock and the exchange's, ms. Default 1000. */
  clockMarginMs: z.number().int().min(0).default(1_000),
  /** Our cap on new orders per second (burst = one second's worth). Default 5. */
  maxOrdersPerSecond: z.number().positive().default(5),
  /** Orders waiting for the cap or a ban before new ones are rejected `RATE_LIMITED`. Default 100. */
  maxQueuedOrders: z.number().int().min(1).default(100),
  /** How often resting orders are checked for fills, ms. Default 1000. */
  pollIntervalMs: z.number().int().min(10).default(1_000),
  retry: RetrySchema.prefault({}),
  reconcile: ReconcileSchema.prefault({}),
  /**
   * Which orders are looked up by client id before they are sent: `replayed` (tsEvent before the
   * venue started: they may have been placed by an earlier run), `always`, `never`. Default `replayed`.
   */
  lookupBeforeSend: z.enum(['replayed', 'always', 'never']).default('replayed'),
  /** Order features to emulate even where the exchange has them natively. Default none. */
  emulate: z.array(z.enum(['stop', 'take-profit', 'trailing', 'oco'])).default([]),
  /** How long the first leg of a native OCO waits for its partner, ms. Default 500. */
  ocoPairTimeoutMs: z.number().int().min(0).default(500),
  /**
   * A restart: the orders an earlier session sent and never saw settled (from its journal). At
   * start-up each is looked up by client order id; the trades it made beyond `filled` (executed
   * while no session watched) come back as fills in the account snapshot (`recoveredFills`), with
   * their fee and the order's signal id. Default none.
   */
  recoverOrders: z
    .array(
      z.strictObject({
        clientOrderId: z.string().min(1),
        signalId: z.string(),
        symbol: z.string().regex(/^[^/\s]+\/[^/\s]+$/, { message: 'a unified symbol such as BTC/USDT' }),
        side: z.enum(['buy', 'sell']),
        /** What the journal already holds as filled, units of 1e-8. */
        filled: z.bigint().min(0n),
        /** When it was sent (ms since the epoch): trades are searched from a minute before. */
        sentAt: z.number().finite(),
      }),
    )
    .default([]),
});

export type CcxtVenueConfig = z.input<typeof CcxtVenueConfigSchema>;
export type CcxtVenueSettings = Readonly<z.output<typeof CcxtVenueConfigSchema>>;

export interface CcxtVenueEnv {
  /** Clock and timers (polling, backoff, pauses, watchdogs). Default `asyncScheduler`. */
  readonly scheduler?: SchedulerLike;
  /** Called with each exchange instance the venue creates (instrumentation in benchmarks). */
  readonly onExchange?: (exchange: ccxt.Exchange) => void;
}

/**
 * Validates a venue config. Errors name the key, what was expected and what was found — except for
 * credentials, whose values are never printed.
 */
export function parseCcxtVenueConfig(config: CcxtVenueConfig, source = 'ccxtVenue config'): CcxtVenueSettings {
  const parsed = CcxtVenueConfigSchema.safeParse(config);
  if (!parsed.success) {
    const text = parsed.error.issues
      .map((issue) => {
        const key = issue.path.length === 0 ? '(root)' : issue.path.join('.');
        const top = String(issue.path[0] ?? '');
        const found = issue.path.reduce<unknown>((v, k) => (isRecord(v) ? v[String(k)] : undefined), config);
        const shown = SECRET_KEYS.has(top)
          ? found === undefined
            ? 'nothing'
            : '(a value, not shown)'
          : found === undefined
            ? 'nothing'
            : JSON.stringify(found);
        return `${source}: ${key}: expected ${issue.code === 'invalid_type' ? issue.expected : issue.message}, found ${shown}`;
      })
      .join('; ');
    throw new CcxtVenueError('INVALID_CONFIG', redactWith(text, secretsOf(config)));
  }
  return Object.freeze(parsed.data);
}

/** The credentials to redact (those long enough to be recognisable). */
export function secretsOf(config: { apiKey?: unknown; secret?: unknown; password?: unknown; uid?: unknown }): string[] {
  return [config.apiKey, config.secret, config.password, config.uid].filter(
    (s): s is string => typeof s === 'string' && s.length >= 4,
  );
}

/** Removes credentials and request signatures from a text. */
export function redactWith(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) out = out.split(secret).join('***');
  for (const secret of secrets) out = out.split(encodeURIComponent(secret)).join('***');
  return out
    .replace(/(signature=)[^&\s"']+/gi, '$1***')
    .replace(/(X-MBX-APIKEY["']?\s*[:=]\s*["']?)[^"',\s}]+/gi, '$1***');
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
