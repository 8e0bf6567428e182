/**
 * The schema of a bot4 pipeline config, one part per component. The TypeScript type of a config
 * is inferred from it, so the two cannot disagree. Validation happens once, when the file is
 * loaded (pipelines/config), and fails with the file, the key, what was expected and what was found.
 */
import { z } from 'zod';

/** A decimal amount written as a string ("0.00001") or a number; kept exact. */
const amount = z.union([
  z.string().regex(/^\d+(\.\d+)?$/, 'a decimal string such as "0.001"'),
  z.number().nonnegative(),
]);
const positiveAmount = z.union([
  z.string().regex(/^\d*\.?\d+$/, 'a decimal string such as "0.001"'),
  z.number().positive(),
]);
const fraction = z.number().min(0).max(1);
const featureRef = z.string().min(1);

export const TIMEFRAME_VALUES = ['1m', '3m', '5m', '15m', '30m', '1h', '2h', '4h', '6h', '8h', '12h', '1d'] as const;
export const TIER_VALUES = ['survival', 'growth', 'acceleration', 'institutional', 'whale'] as const;
const priceField = z.enum(['open', 'high', 'low', 'close', 'volume']);

export const instrumentSchema = z.strictObject({
  /** ccxt exchange id the instrument trades on (`binance`). */
  venue: z.string().min(1),
  /** Unified symbol BASE/QUOTE. */
  symbol: z.string().regex(/^[A-Z0-9]+\/[A-Z0-9]+$/, 'a unified symbol such as "BTC/USDT"'),
  /** Lot size (quantity step), base currency. */
  qtyStep: positiveAmount,
  /** Price tick, quote currency. */
  priceTick: z.number().positive(),
  /** Minimum order quantity, base currency. Default: one lot. */
  minQty: amount.optional(),
  /** Minimum order notional, quote currency. Default 0. */
  minNotional: amount.optional(),
  /** Maximum order quantity, base currency. Default: none. */
  maxQty: positiveAmount.optional(),
  /** Sector for concentration limits. Default "unclassified". */
  sector: z.string().min(1).optional(),
});

export const featureSchema = z.strictObject({
  /** Name the value is published under (multi-output indicators: `<id>.<output>`). */
  id: z.string().regex(/^[A-Za-z][A-Za-z0-9_]*$/, 'an identifier such as "rsi14"'),
  /** tulind indicator name. */
  indicator: z.string().min(1),
  /** Options in tulind's order. */
  options: z.array(z.number()).optional(),
  /** Bar fields for tulind's `real` inputs. */
  inputs: z.array(priceField).optional(),
  /** Rolling window in bars for indicators computed by tulind. */
  window: z.number().int().positive().optional(),
});

const voteGroup = z.enum(['trend', 'momentum', 'volatility']);
const weight = z.number().positive().optional();

export const taRuleSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('cross'), group: voteGroup, weight, fast: featureRef, slow: featureRef }),
  z.strictObject({
    kind: z.literal('level'),
    group: voteGroup,
    weight,
    feature: featureRef,
    low: z.number(),
    high: z.number(),
    mode: z.enum(['reversion', 'momentum']).optional(),
  }),
  z.strictObject({
    kind: z.literal('sign'),
    group: voteGroup,
    weight,
    feature: featureRef,
    deadband: z.number().nonnegative().optional(),
  }),
  z.strictObject({
    kind: z.literal('band'),
    group: voteGroup,
    weight,
    lower: featureRef,
    upper: featureRef,
    price: featureRef.optional(),
    mode: z.enum(['reversion', 'breakout']).optional(),
  }),
]);

export const taSchema = z.strictObject({
  rules: z.array(taRuleSchema).min(1),
  threshold: fraction.optional(),
  strengthFilter: z.strictObject({ feature: featureRef, min: z.number().positive() }).optional(),
});

export const mlInputSchema = z.strictObject({
  /** Feature or bar field. */
  ref: featureRef,
  /** Use `ref / relativeTo − 1` (turns price levels into stationary ratios). */
  relativeTo: featureRef.optional(),
});

/** How `run-pipeline train` builds the model this config uses. */
export const mlTrainingSchema = z.strictObject({
  inputs: z.array(mlInputSchema).min(1),
  /** Label: close `horizon` bars ahead above the close now. Default 1. */
  horizon: z.number().int().positive().optional(),
  /** Share of the samples (oldest first) used for training; the rest, after the gap, for testing. Default 0.7. */
  trainFraction: z.number().gt(0).lt(1).optional(),
  /** Bars left out between training and test samples. Default: max(horizon, longest indicator warm-up). */
  gapBars: z.number().int().nonnegative().optional(),
  hiddenLayers: z.array(z.number().int().positive()).min(1).optional(),
  iterations: z.number().int().positive().optional(),
  learningRate: z.number().positive().optional(),
  /** Seed of the weight initialisation: the same data, config and seed give the same model. Default 1. */
  seed: z.number().int().optional(),
});

export const mlSchema = z.strictObject({
  /** Model file, relative to the config file. */
  model: z.string().min(1),
  band: z.number().min(0).max(0.5).optional(),
  allowInSample: z.boolean().optional(),
  training: mlTrainingSchema.optional(),
});

export const fuseSchema = z.strictObject({
  weights: z
    .strictObject({
      ta: fraction.optional(),
      ml: fraction.optional(),
      sentiment: fraction.optional(),
      onchain: fraction.optional(),
      macro: fraction.optional(),
      news: fraction.optional(),
    })
    .refine(
      (w) => Object.values(w).some((v) => v !== undefined && v > 0),
      'at least one source with a positive weight',
    ),
  minScore: fraction.optional(),
  minConfidence: fraction.optional(),
});

export const sizingSchema = z.strictObject({
  kellyFraction: fraction.optional(),
  misspecificationBuffer: z.number().min(0).max(0.99).optional(),
  payoffRatio: z.number().positive().optional(),
  maxPositionPct: fraction.optional(),
  allowShort: z.boolean().optional(),
  onFlat: z.enum(['hold', 'close']).optional(),
  rebalanceThreshold: fraction.optional(),
  /** Annualised volatility target: position ≤ volTarget / σ of equity. */
  volTarget: z.number().positive().optional(),
});

/** A market-risk limit: a number, or null to switch it off. */
const optionalLimit = z.number().positive().nullable().optional();

export const riskSchema = z.strictObject({
  maxPositionPct: fraction.optional(),
  maxVenuePct: fraction.optional(),
  maxStrategyPct: fraction.optional(),
  maxSectorPct: fraction.optional(),
  maxLeverage: z.number().positive().optional(),
  maxOrderNotional: z.number().positive().optional(),
  maxOrdersPerMinute: z.number().int().positive().optional(),
  maxDrawdown: fraction.optional(),
  maxHeat: optionalLimit,
  maxCorrelation: z.number().min(0).max(1).nullable().optional(),
  volTarget: optionalLimit,
  maxVar: optionalLimit,
  exitParticipation: z.number().gt(0).max(1).optional(),
  /**
   * GARCH(1,1)-t VaR per symbol for maxVar (spec §8.1), refitted on a schedule. Without it the
   * gate uses the normal approximation 2.326·σ_daily from marketStats.
   */
  garch: z
    .strictObject({
      /** Most recent bar returns fitted. Default 2000. */
      windowBars: z.number().int().min(10).optional(),
      /** Refit period in bars (UTC-aligned). Default one day of bars. */
      refitEveryBars: z.number().int().positive().optional(),
      /** Returns before the first fit. Default min(500, windowBars). */
      minReturns: z.number().int().min(10).optional(),
    })
    .optional(),
  /** Rolling statistics behind the market-risk limits. */
  marketStats: z
    .strictObject({
      /** EWMA decay per bar. */
      lambda: z.number().gt(0).lt(1).optional(),
      /** Returns before a volatility is trusted. */
      minReturns: z.number().int().positive().optional(),
    })
    .optional(),
});

/** The trading-mode machine (spec §7.8). */
export const modesSchema = z.strictObject({
  /** Mode at start. Default Normal. */
  initial: z.enum(['Normal', 'Paused', 'Reduced', 'Emergency']).optional(),
  /** Drawdown at or above which the mode is at least Reduced. Default 0.15. */
  reduceDrawdown: fraction.optional(),
  /** Drawdown below which Reduced returns to Normal (hysteresis). Default 0.10. */
  recoverDrawdown: fraction.optional(),
  /** Drawdown at or above which the mode becomes Emergency (latched). Default 0.25. */
  emergencyDrawdown: fraction.optional(),
});

/** Circuit breakers per component and global (spec §6.3, §8.4). Times in ms. */
export const breakersSchema = z.strictObject({
  windowMs: z.number().int().positive().optional(),
  minCalls: z.number().int().positive().optional(),
  tripErrorRate: fraction.optional(),
  closeErrorRate: fraction.optional(),
  consecutiveErrors: z.number().int().positive().optional(),
  cooldownMs: z.number().int().positive().optional(),
  cooldownBackoff: z.number().min(1).optional(),
  maxCooldownMs: z.number().int().positive().optional(),
  halfOpenSuccesses: z.number().int().positive().optional(),
  globalOpenComponents: z.number().int().positive().optional(),
});

export const executionSchema = z.strictObject({
  venue: z.literal('paper'),
  takerFeeBps: z.number().min(0).max(1000).optional(),
  slippageBps: z.number().min(0).max(1000).optional(),
});

export const journalSchema = z.strictObject({
  /** `all`: every signal of every bar; `actionable`: only signals with a direction. Default all. */
  signals: z.enum(['all', 'actionable']).optional(),
});

/** Observability: the InfluxDB sink and the Prometheus endpoint (both off by default). */
export const monitoringSchema = z.strictObject({
  /** Points to InfluxDB; the server comes from INFLUX_URL, INFLUX_TOKEN, INFLUX_ORG, INFLUX_BUCKET. */
  influx: z
    .strictObject({
      enabled: z.boolean(),
      /** Lines per write request. Default 5000. */
      batchSize: z.number().int().positive().optional(),
      /** Unsent lines kept in memory before spilling to disk. Default 200000. */
      maxBufferLines: z.number().int().positive().optional(),
      /** Longest wait before a partial batch is sent, ms. Default 1000. */
      flushIntervalMs: z.number().int().positive().optional(),
      /** Also write every bar's features (computed again by the same operator: costs a few µs per bar). Default false. */
      features: z.boolean().optional(),
    })
    .optional(),
  /** Prometheus `/metrics` (paper and live sessions). */
  metrics: z
    .strictObject({
      enabled: z.boolean(),
      /** Address to bind. Default 127.0.0.1. */
      host: z.string().min(1).optional(),
      /** Port; 0 picks a free one. Default 9464. */
      port: z.number().int().min(0).max(65535).optional(),
    })
    .optional(),
});

export const pipelineConfigSchema = z.strictObject({
  /** Strategy id: namespaces client order ids. */
  name: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'a lowercase id such as "growth-btc"'),
  tier: z.enum(TIER_VALUES),
  description: z.string().optional(),
  instrument: instrumentSchema,
  timeframe: z.enum(TIMEFRAME_VALUES),
  capital: z.strictObject({ initial: positiveAmount }),
  features: z.array(featureSchema).min(1),
  signals: z.strictObject({
    ta: taSchema.optional(),
    ml: mlSchema.optional(),
    fuse: fuseSchema,
  }),
  sizing: sizingSchema.optional(),
  risk: riskSchema.optional(),
  modes: modesSchema.optional(),
  breakers: breakersSchema.optional(),
  execution: executionSchema,
  journal: journalSchema.optional(),
  monitoring: monitoringSchema.optional(),
});

export type PipelineConfigInput = z.input<typeof pipelineConfigSchema>;
export type PipelineConfigFile = z.output<typeof pipelineConfigSchema>;
