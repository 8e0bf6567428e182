/**
 * The schema of a bot4 pipeline config, one part per component. The TypeScript type of a config
 * is inferred from it, so the two cannot disagree. Validation happens once, when the file is
 * loaded (pipelines/config), and fails with the file, the key, what was expected and what was found.
 */
import { z } from 'zod';

/** Money is kept in bigint units of 1e-8: an amount with more decimals would be silently rounded. */
const onUnitGrid = (x: number): boolean => Math.abs(x * 1e8 - Math.round(x * 1e8)) < 1e-6;
const UNIT_GRID = 'at most 8 decimals (amounts are kept in units of 0.00000001)';

/** A decimal amount written as a string ("0.00001") or a number; kept exact. */
const amount = z.union([
  z.string().regex(/^\d+(\.\d{1,8})?$/, `a decimal string such as "0.001", ${UNIT_GRID}`),
  z.number().nonnegative().lt(1e15).refine(onUnitGrid, UNIT_GRID),
]);
/** A decimal amount > 0: zero would silently switch off what it sizes (a lot of 0 disables rounding). */
const positiveAmount = z.union([
  z
    .string()
    .regex(/^\d*\.?\d{1,8}$|^\d+$/, `a decimal string such as "0.001", ${UNIT_GRID}`)
    .refine((text) => /[1-9]/.test(text), 'a decimal string greater than 0'),
  z
    .number()
    .positive()
    .lt(1e15)
    .refine((x) => x >= 1e-8 && onUnitGrid(x), `a number ≥ 0.00000001 with ${UNIT_GRID}`),
]);
const fraction = z.number().min(0).max(1);
/** A share where 0 would mean "never do anything" (a position limit of 0, a Kelly fraction of 0). */
const positiveFraction = z.number().gt(0).max(1);
const featureRef = z.string().min(1);

export const TIMEFRAME_VALUES = ['1m', '3m', '5m', '15m', '30m', '1h', '2h', '4h', '6h', '8h', '12h', '1d'] as const;
export const TIER_VALUES = ['survival', 'growth', 'acceleration', 'institutional', 'whale'] as const;
const priceField = z.enum(['open', 'high', 'low', 'close', 'volume']);

export const instrumentSchema = z.strictObject({
  /** ccxt exchange id the instrument trades on (`binance`). */
  venue: z.string().min(1),
  /** Unified symbol as ccxt writes it: BASE/QUOTE for spot, BASE/QUOTE:SETTLE for perpetuals/futures. */
  symbol: z
    .string()
    .regex(
      /^[A-Z0-9]+\/[A-Z0-9]+(:[A-Z0-9]+(-[0-9]{6})?)?$/,
      'a unified symbol such as "BTC/USDT" (spot) or "BTC/USDT:USDT" (perpetual)',
    ),
  /** Lot size (quantity step), base currency. */
  qtyStep: positiveAmount,
  /** Price tick, quote currency. */
  priceTick: z.number().positive(),
  /** Minimum order quantity, base currency. Default: one lot. */
  minQty: positiveAmount.optional(),
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
  /** The voting rules: `cross`, `level`, `sign` or `band`, each in a `group` with a `weight` (default 1). */
  rules: z.array(taRuleSchema).min(1),
  /** Minimum |score| (the weighted mean vote, −1..1) for a long or short signal. Default 0.25. */
  threshold: fraction.optional(),
  /** Scale the confidence by min(1, feature / min) (e.g. ADX / 20): a trendless market gets little say. */
  strengthFilter: z.strictObject({ feature: featureRef, min: z.number().positive() }).optional(),
  /** Only rules making this claim vote (`trend` or `reversion`). Default: all rules, one mixed score. */
  claim: z.enum(['trend', 'reversion']).optional(),
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
  /** Label horizon, bars (see `label`). Default 1. */
  horizon: z.number().int().positive().optional(),
  /** Share of the samples (oldest first) used for training; the rest, after the gap, for testing. Default 0.7. */
  trainFraction: z.number().gt(0).lt(1).optional(),
  /**
   * Share of the samples, after the training part and a gap, on which the probabilities are
   * calibrated (Platt); the test part follows after another gap. Default 0: no calibration.
   */
  calibrationFraction: z.number().min(0).lt(1).optional(),
  /**
   * `net-of-cost` (default): the label is "the return over the horizon beats the round trip's
   * cost" (execution fees and slippage); `direction`: close ahead above the close now.
   */
  label: z.enum(['net-of-cost', 'direction']).optional(),
  /** Bars left out between training and test samples. Default: max(horizon, longest indicator warm-up). */
  gapBars: z.number().int().nonnegative().optional(),
  /**
   * Purged k-fold cross-validation on the training part, k folds (≥ 2): each fold is scored by a
   * network fitted on the other folds minus the samples whose label window overlaps the fold
   * (purge) and those starting within `gapBars` after it (embargo). Reported in the model's
   * metrics; the shipped network is still the one fitted on the whole training part. Default: none.
   */
  cvFolds: z.number().int().min(2).optional(),
  /**
   * An ensemble of this many networks (seeds seed, seed+1, …), averaged with weights from their
   * log loss on the calibration slice (needs calibrationFraction > 0). Default: one network.
   */
  ensemble: z.number().int().min(2).max(16).optional(),
  /** Sizes of the network’s hidden layers. Default [16, 8]. */
  hiddenLayers: z.array(z.number().int().positive()).min(1).optional(),
  /** Training iterations (brain.js). Default 100. */
  iterations: z.number().int().positive().optional(),
  /** brain.js learning rate. Default 0.1. */
  learningRate: z.number().positive().optional(),
  /** Seed of the weight initialisation: the same data, config and seed give the same model. Default 1. */
  seed: z.number().int().optional(),
});

export const mlSchema = z.strictObject({
  /** Model file, relative to the config file. */
  model: z.string().min(1),
  /** Dead band around the neutral point: the probability must exceed it by `band` for long, fall under it by `band` for short. Default 0.02. */
  band: z.number().min(0).max(0.5).optional(),
  /** Give ML signals on bars the model was trained or tested on (normally refused: in-sample skill is not skill). Default false. */
  allowInSample: z.boolean().optional(),
  /**
   * Drift detection on the model's log loss (Page–Hinkley; see operators/mlSignal.ts): after an
   * alarm the model's confidence is multiplied by weightAfterDrift (default 0) until it is retrained.
   */
  drift: z
    .strictObject({
      delta: z.number().min(0).optional(),
      threshold: z.number().positive().optional(),
      minSamples: z.number().int().positive().optional(),
      weightAfterDrift: z.number().min(0).max(1).optional(),
    })
    .optional(),
  training: mlTrainingSchema.optional(),
});

export const fuseSchema = z.strictObject({
  /** Weight of each source in the fused score; a source without a signal hands its say to the others. */
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
  /** Minimum |fused score| for a long or short signal. Default 0.2. */
  minScore: fraction.optional(),
  /** Minimum fused confidence for a long or short signal. Default 0.2. */
  minConfidence: fraction.optional(),
});

/** What a signal expects over a horizon, learned walk-forward per score bin (`operators/forecastReturn`). */
export const forecastSchema = z.strictObject({
  /** Horizon of the forecast, bars. */
  horizonBars: z.number().int().positive(),
  /** Score bin edges, ascending, inside (−1, 1). */
  edges: z.array(z.number().gt(-1).lt(1)).min(1),
  /** Matured outcomes a bin needs before it forecasts. Default 200. */
  minSamples: z.number().int().positive().optional(),
  /** Half-life of an outcome's weight, in outcomes of its bin. Default: none. */
  halfLife: z.number().positive().optional(),
  /** Pseudo-samples at 0 that shrink a thin bin's forecast. Default 50. */
  shrinkage: z.number().nonnegative().optional(),
});

/** Exits decided with every entry (`operators/brackets`). */
export const bracketsSchema = z.strictObject({
  /** Feature holding the ATR (price units), e.g. `atr14`. */
  atr: featureRef,
  /** Stop distance, ATRs from the entry. */
  stopAtr: z.number().positive(),
  /** Target, R-multiples of the stop distance. Default: none. */
  targetR: z.number().positive().optional(),
  /** Share taken off at the target; the rest rides with a break-even stop. Default 1. */
  partialFraction: z.number().gt(0).max(1).optional(),
  /** Trailing stop, ATRs from the best close since entry. Default: none. */
  trailAtr: z.number().positive().optional(),
  /** Time stop, bars. Default: none. */
  maxHoldBars: z.number().int().positive().optional(),
  /** Feature holding a support level (e.g. the lowest low of a window), for `levelStop` and `fibExtension`. */
  support: featureRef.optional(),
  /** Feature holding a resistance level (e.g. the highest high of a window). */
  resistance: featureRef.optional(),
  /** Put the stop just beyond support/resistance when that is tighter than the ATR stop. Default false. */
  levelStop: z.boolean().optional(),
  /** Distance beyond the level, ATRs. Default 0.5. */
  levelBufferAtr: z.number().positive().optional(),
  /** Fibonacci-extension target, e.g. 1.618 × the support–resistance range from support. Default: none. */
  fibExtension: z.number().positive().optional(),
  /**
   * `resting` (default): stop and target rest at the venue as its own stop-loss / take-profit orders
   * (one OCO group), triggered inside a bar; `on-close`: checked on closes, exits sent at market.
   */
  orders: z.enum(['resting', 'on-close']).optional(),
  /** Resting legs as stop-limit / take-profit-limit orders with the limit this many bps beyond the trigger. Default: market legs. */
  limitOffsetBps: z.number().positive().optional(),
});

/** Trading only when the edge clears the cost (`operators/decideTrade`); needs `signals.forecast`. */
export const edgeSchema = z.strictObject({
  /** Enter only when the forecast ≥ costMargin × the round trip's cost. Default 1.5. */
  costMargin: z.number().min(1).optional(),
  /** Exit on the signal when the forecast in the position's direction falls below this, bps. Default 0. */
  exitBps: z.number().optional(),
  /** Bars before a signal exit is allowed (stops always apply). Default 0. */
  minHoldBars: z.number().int().nonnegative().optional(),
  /** Resize an open position only when the target moves more than this share of it. Default 0.5. */
  noTradeBand: z.number().nonnegative().optional(),
  /** Half the bid-ask spread paid per taker leg on top of the modelled slippage, bps. Default 0. */
  halfSpreadBps: z.number().nonnegative().optional(),
});

export const sizingSchema = z.strictObject({
  /** Fraction of the full Kelly bet taken (spec §8.2). Default 0.25. */
  kellyFraction: positiveFraction.optional(),
  /** Share of the estimated edge assumed to be error and removed before Kelly (spec §8.2; 0.5 = half the edge is not real). Default 0.5. */
  misspecificationBuffer: z.number().min(0).max(0.99).optional(),
  /** Average win / average loss (Kelly's b). Default 1; target distance / stop distance when exits are bracketed. */
  payoffRatio: z.number().positive().optional(),
  /** Cap on the target position, fraction of equity. Default 0.25. */
  maxPositionPct: positiveFraction.optional(),
  /** Whether a short signal may open a short position (spot: no). Default false. */
  allowShort: z.boolean().optional(),
  /** What a flat signal does to an open position: `hold` or `close`. Default hold. */
  onFlat: z.enum(['hold', 'close']).optional(),
  /** Skip rebalancing an open position in the same direction when the change is smaller than this fraction of the target (no fees for noise). Default 0.25. */
  rebalanceThreshold: fraction.optional(),
  /** Annualised volatility target: position ≤ volTarget / σ of equity. */
  volTarget: z.number().positive().optional(),
  /** Forecast-and-cost decisions instead of sizing every signal (see `edgeSchema`). */
  edge: edgeSchema.optional(),
  /** Exits for every entry (with `edge`). */
  brackets: bracketsSchema.optional(),
});

/** A market-risk limit: a number, or null to switch it off. */
const optionalLimit = z.number().positive().nullable().optional();

export const riskSchema = z.strictObject({
  /** Largest position in one symbol after the order, fraction of equity. Default 0.05. */
  maxPositionPct: positiveFraction.optional(),
  /** Largest exposure on one venue, fraction of equity. Default 0.20. */
  maxVenuePct: positiveFraction.optional(),
  /** Largest exposure of this strategy (all its positions), fraction of equity. Default 0.30. */
  maxStrategyPct: positiveFraction.optional(),
  /** Largest exposure in one sector, fraction of equity. Default 0.40. */
  maxSectorPct: positiveFraction.optional(),
  /** Gross exposure / equity. Spot cannot borrow: 1 at most (checked against the symbol); derivatives ≤ 125. */
  maxLeverage: z.number().positive().max(125).optional(),
  /** Largest notional of one order, quote currency. Default: no limit. */
  maxOrderNotional: z.number().positive().optional(),
  /** Risk-increasing orders per rolling minute (event time). Default 30. */
  maxOrdersPerMinute: z.number().int().positive().optional(),
  /** Drawdown from peak equity at which new risk is refused. Default 0.15. */
  maxDrawdown: positiveFraction.optional(),
  /** Portfolio heat Σ|wᵢ|·σᵢ·√Lᵢ (exposure/equity × annualised volatility × liquidity factor); null switches it off. Default 0.25. */
  maxHeat: optionalLimit,
  /** Largest correlation with an open position the order would add to; null switches it off. Default 0.7. */
  maxCorrelation: z.number().min(0).max(1).nullable().optional(),
  /** Annualised volatility of the portfolio after the order; null switches it off. Default 0.15. */
  volTarget: optionalLimit,
  /** 1-day 99 % VaR of the portfolio after the order, fraction of equity; null switches it off. Default 0.02. */
  maxVar: optionalLimit,
  /** Share of a day's traded value a position may take to exit (its liquidity factor grows with the days it would need). Default 0.1. */
  exitParticipation: z.number().gt(0).max(1).optional(),
  /**
   * GARCH(1,1)-t VaR per symbol for maxVar (spec §8.1), refitted on a schedule. Without it the
   * gate uses the normal approximation 2.326·σ_daily from marketStats.
   */
  garch: z
    .strictObject({
      /** Most recent bar returns fitted (a count, or a duration such as `7d`). Default 2000. */
      windowBars: z.number().int().min(10).optional(),
      /** Refit period in bars, or a duration (`1d`), UTC-aligned. Default one day of bars. */
      refitEveryBars: z.number().int().positive().optional(),
      /** Returns before the first fit (a count or a duration). Default min(500, windowBars). */
      minReturns: z.number().int().min(10).optional(),
      /** Roll the conditional variance (and the VaR) forward with every bar between refits. Default true. */
      rollForward: z.boolean().optional(),
      /** Also start each refit from the previous fit (see operators/garch.ts). Default false. */
      warmStart: z.boolean().optional(),
    })
    .optional(),
  /** Rolling statistics behind the market-risk limits. */
  marketStats: z
    .strictObject({
      /** EWMA decay per bar, or a half-life duration (`12h`) converted for the timeframe. */
      lambda: z.number().gt(0).lt(1).optional(),
      /** Returns before a volatility is trusted (a count or a duration such as `1d`). */
      minReturns: z.number().int().positive().optional(),
    })
    .optional(),
});

/** The trading-mode machine (spec §7.8). */
export const modesSchema = z.strictObject({
  /** Mode at start. Default Normal. */
  initial: z.enum(['Normal', 'Paused', 'Reduced', 'Emergency']).optional(),
  /** Drawdown at or above which the mode is at least Reduced. Default 0.15. */
  reduceDrawdown: positiveFraction.optional(),
  /** Drawdown below which Reduced returns to Normal (hysteresis). Default 0.10. */
  recoverDrawdown: fraction.optional(),
  /** Drawdown at or above which the mode becomes Emergency (latched). Default 0.25. */
  emergencyDrawdown: positiveFraction.optional(),
});

/** Circuit breakers per component and global (spec §6.3, §8.4). Times in ms. */
export const breakersSchema = z.strictObject({
  /** Rolling window the error rate is measured over, ms of event time. Default 60000. */
  windowMs: z.number().int().positive().optional(),
  /** Fewest calls in the window before the error rate may trip a breaker. Default 20. */
  minCalls: z.number().int().positive().optional(),
  /** Error rate at or above which a CLOSED breaker trips. Default 0.5 (spec §6.3). */
  tripErrorRate: fraction.optional(),
  /** Error rate at or below which a HALF_OPEN breaker may close (below tripErrorRate: no flapping). Default 0.25. */
  closeErrorRate: fraction.optional(),
  /** Errors in a row that trip a CLOSED breaker whatever the window holds. Default 5. */
  consecutiveErrors: z.number().int().positive().optional(),
  /** Time an OPEN breaker waits before it lets probes through (HALF_OPEN), ms. Default 30000. */
  cooldownMs: z.number().int().positive().optional(),
  /** Each reopen from HALF_OPEN multiplies the cooldown by this factor. Default 2. */
  cooldownBackoff: z.number().min(1).optional(),
  /** Upper bound of the backed-off cooldown, ms. Default 300000. */
  maxCooldownMs: z.number().int().positive().optional(),
  /** Successes in a row a HALF_OPEN breaker needs to close. Default 3. */
  halfOpenSuccesses: z.number().int().positive().optional(),
  /** Components OPEN at once that open the global breaker. Default 2. */
  globalOpenComponents: z.number().int().positive().optional(),
});

/**
 * The simulated exchange (sinks/paperExchange) that backtests and paper sessions fill through.
 * With only takerFeeBps/slippageBps set it fills market orders at the next bar's open (or the next
 * trade) moved by the slippage, with a flat fee: the classic backtest fill.
 */
export const executionSchema = z.strictObject({
  /** The simulated exchange; live sessions use the instrument's venue through ccxt. */
  venue: z.literal('paper'),
  /** Flat taker fee, basis points. Default 10 (unless feeTiers is given). */
  takerFeeBps: z.number().min(0).max(1000).optional(),
  /** Flat maker fee, basis points. Default: the taker fee. */
  makerFeeBps: z.number().min(-1000).max(1000).optional(),
  /** Adverse slippage of a market fill without a book, basis points. Default 2. */
  slippageBps: z.number().min(0).max(1000).optional(),
  /**
   * Fee tiers by 30-day quote volume instead of a flat fee: `binance-spot` (Binance's VIP table) or
   * a list whose first tier starts at 0.
   */
  feeTiers: z
    .union([
      z.literal('binance-spot'),
      z
        .array(
          z.strictObject({
            name: z.string().min(1),
            minVolume30d: amount,
            makerBps: z.number().min(-1000).max(1000),
            takerBps: z.number().min(0).max(1000),
          }),
        )
        .min(1),
    ])
    .optional(),
  /** Square-root market impact: a taker fill moves γ·√(qty/ADV) against the order. Default off. */
  impact: z
    .strictObject({
      /** Impact coefficient γ. */
      gamma: z.number().min(0).max(10),
      /** Window of the rolling ADV estimate, ms. Default one day. */
      advWindowMs: z.number().int().positive().optional(),
    })
    .optional(),
  /** Order latency (log-normal): a command meets the market as it is after the delay. Default none. */
  latency: z
    .strictObject({
      /** Mean order latency, ms. */
      meanMs: z.number().min(0),
      /** Standard deviation of the latency, ms. Default 0. */
      stdMs: z.number().min(0).optional(),
    })
    .optional(),
  /** New orders per second the venue accepts; more are rejected RATE_LIMITED. Default none. */
  rateLimit: z.strictObject({ ordersPerSecond: z.number().int().positive() }).optional(),
  /** Seed of the latency draws. Default 1. */
  seed: z.number().int().optional(),
});

export const journalSchema = z.strictObject({
  /** `all`: every signal of every bar; `actionable`: only signals with a direction. Default all. */
  signals: z.enum(['all', 'actionable']).optional(),
  /**
   * `decisions`: orders, fills, risk decisions, mode and audit events, data problems, and only
   * the signals that changed direction or caused an order (as headlines); `all`: every signal of
   * every bar with its evidence. Default decisions.
   */
  level: z.enum(['decisions', 'all']).optional(),
});

/** Where a paper or live session's bars come from. */
export const feedSchema = z.strictObject({
  /**
   * `ohlcv`: the exchange's kline stream (ccxt.pro watchOHLCV). `trades`: built from the trade
   * stream with aggregateBars (the first, partial bar dropped), the kline stream kept as a
   * cross-check whose disagreements are logged and counted. Default ohlcv.
   */
  bars: z.enum(['ohlcv', 'trades']).optional(),
});

export const signalsSchema = z.strictObject({
  ta: taSchema.optional(),
  ml: mlSchema.optional(),
  fuse: fuseSchema,
  forecast: forecastSchema.optional(),
  /** Publish TA-Lib's candlestick patterns as features `cdl.<pattern>` (rules, ML inputs). Default false. */
  patterns: z.boolean().optional(),
  /**
   * Higher timeframes built from the bars: their indicators as `<timeframe>.<id>` (visible once
   * the higher bar closed) and a confluence score `mtf.confluence`, for rules and ML inputs.
   */
  timeframes: z
    .array(
      z.strictObject({
        timeframe: z.enum(TIMEFRAME_VALUES),
        features: z.array(featureSchema),
        /** Trend vote for the confluence: sign(fast − slow), ids of this timeframe's features or `close`. */
        trend: z.strictObject({ fast: featureRef, slow: featureRef }).optional(),
      }),
    )
    .optional(),
});

/**
 * One instrument of a universe: the instrument itself and, optionally, its own features and
 * signals (replacing the config's top-level `features` / `signals` for that symbol only). Every
 * symbol runs its own indicator and signal state whether or not it overrides them.
 */
export const universeInstrumentSchema = instrumentSchema.extend({
  features: z.array(featureSchema).min(1).optional(),
  signals: signalsSchema.optional(),
});

/**
 * The instruments one pipeline trades: one portfolio in their common quote currency and one risk
 * gate see all of them. Symbols are unique (one venue per symbol until routing lands).
 */
export const universeSchema = z.strictObject({
  instruments: z.array(universeInstrumentSchema).min(1),
});

/** Log levels, lowest first (`silent` turns a component off). */
export const LOG_LEVEL_VALUES = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

/** Observability: the InfluxDB sink, the Prometheus endpoint, logs and traces (all off by default). */
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
  /** Structured JSON logs (README "Logs and traces"): one line per trading event, per-component levels. */
  logs: z
    .strictObject({
      enabled: z.boolean(),
      /** Level of every component without its own. Default info. */
      level: z.enum(LOG_LEVEL_VALUES).optional(),
      /** Per-component levels: session, orders, fills, risk, modes, venue, feed. */
      components: z.record(z.string(), z.enum(LOG_LEVEL_VALUES)).optional(),
      /** Also write to this file, rotated by size (e.g. "10m"), keeping `keep` files. */
      file: z
        .strictObject({
          path: z.string().min(1),
          size: z
            .string()
            .regex(/^\d+[kmg]?$/, 'a size such as "10m"')
            .optional(),
          keep: z.number().int().positive().optional(),
        })
        .optional(),
      /** Write to standard output (journald under systemd). Default true. */
      stdout: z.boolean().optional(),
    })
    .optional(),
  /** Traces of the order flow over OTLP/HTTP (README "Logs and traces"). Off unless enabled or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set. */
  traces: z
    .strictObject({
      enabled: z.boolean(),
      /** OTLP/HTTP traces endpoint. Default OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, else http://127.0.0.1:4318/v1/traces. */
      url: z.string().url().optional(),
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

const intelSourceName = z.enum(['sentiment', 'onchain', 'macro', 'news']);
const intelTiming = z
  .strictObject({
    /** Age up to which a value counts fully, ms. */
    freshMs: z.number().int().nonnegative(),
    /** Age at which it stops counting, ms (> freshMs). */
    maxAgeMs: z.number().int().positive(),
  })
  .refine((t) => t.maxAgeMs > t.freshMs, 'maxAgeMs greater than freshMs');
/** Calls a day per capital tier (spec §3.5: Grok 10 / 100 / 500 / 2000 / 10000). */
const tierBudget = z.strictObject({
  survival: z.number().int().nonnegative(),
  growth: z.number().int().nonnegative(),
  acceleration: z.number().int().nonnegative(),
  institutional: z.number().int().nonnegative(),
  whale: z.number().int().nonnegative(),
});
const httpProvider = {
  /** Base URL of the API (tests point it at a loopback server). Default: the provider's. */
  baseUrl: z.url().optional(),
  /** Poll period, ms. */
  everyMs: z.number().int().min(1000).optional(),
  /** Request timeout, ms. Default 10000. */
  timeoutMs: z.number().int().positive().optional(),
  /** Daily call budget per tier; the config's tier picks one. Default: the provider's own. */
  budget: tierBudget.optional(),
};

/**
 * Intelligence joined into the fusion (sources/intel, operators/joinIntel): which sources vote (their
 * weights are `signals.fuse.weights`), how fresh a value must be, the regime adjustment, and the
 * providers `run-pipeline record` polls. API keys come only from the environment (XAI_API_KEY,
 * FRED_API_KEY, GLASSNODE_API_KEY).
 */
export const intelligenceSchema = z.strictObject({
  sources: z.array(intelSourceName).min(1),
  timing: z.partialRecord(intelSourceName, intelTiming).optional(),
  /** |score| below which a source says flat. Default 0.05. */
  deadband: fraction.optional(),
  /** Regime detection from the bars (trend / range / high-vol), adjusting the fusion weights; false: off. */
  regime: z
    .union([
      z.literal(false),
      z.strictObject({
        trendBars: z.number().int().min(2).optional(),
        trendEfficiency: fraction.optional(),
        shortHalfLife: z.number().positive().optional(),
        longHalfLife: z.number().positive().optional(),
        highVolRatio: z.number().positive().optional(),
      }),
    ])
    .optional(),
  providers: z
    .strictObject({
      grok: z
        .strictObject({
          ...httpProvider,
          model: z.string().min(1).optional(),
          assets: z.array(z.string().regex(/^[A-Z0-9]+$/)).min(1),
        })
        .optional(),
      fearGreed: z.strictObject(httpProvider).optional(),
      fred: z
        .strictObject({
          ...httpProvider,
          series: z
            .array(
              z.strictObject({
                id: z.string().regex(/^[A-Z0-9_]+$/, 'a FRED series id such as "DFF"'),
                /** +1: a rise is bullish for crypto (M2); −1: bearish (rates, CPI). */
                sign: z.union([z.literal(1), z.literal(-1)]),
                /** Change (in the series' units, over its last observation) that scores ±0.76 (tanh 1). */
                scale: z.number().positive(),
              }),
            )
            .min(1),
        })
        .optional(),
      glassnode: z
        .strictObject({
          ...httpProvider,
          assets: z.array(z.string().regex(/^[A-Z0-9]+$/)).min(1),
          metrics: z.array(z.enum(['sopr', 'nupl', 'mvrv', 'exchange_netflow', 'large_transfers'])).min(1),
        })
        .optional(),
      news: z.strictObject({ ...httpProvider, feeds: z.array(z.url()).min(1) }).optional(),
    })
    .optional(),
});

export const pipelineConfigSchema = z.strictObject({
  /**
   * A config this one builds on, relative to this file: its mappings are merged key by key, and
   * anything else this file writes (a list, a number, null) replaces the base's value.
   */
  extends: z.string().min(1).optional(),
  /** Strategy id: namespaces client order ids. */
  name: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'a lowercase id such as "growth-btc"'),
  /** The capital tier this pipeline is for (spec §3.5); see `run-pipeline tiers`. */
  tier: z.enum(TIER_VALUES),
  /** Free text describing the pipeline. */
  description: z.string().optional(),
  /** Shorthand for a one-instrument universe. Exactly one of `instrument` and `universe`. */
  instrument: instrumentSchema.optional(),
  /** Several instruments traded as one portfolio. Exactly one of `instrument` and `universe`. */
  universe: universeSchema.optional(),
  /** Bar timeframe of the strategy; data files must be of this timeframe. */
  timeframe: z.enum(TIMEFRAME_VALUES),
  /** Starting cash (`initial`), in the quote currency. */
  capital: z.strictObject({ initial: positiveAmount }),
  /** Features of every symbol that does not list its own. */
  features: z.array(featureSchema).min(1),
  /** Signals of every symbol that does not list its own. */
  signals: signalsSchema,
  /** Position sizing: fractional Kelly, caps, volatility target; `edge` and `brackets` for forecast-and-cost decisions. */
  sizing: sizingSchema.optional(),
  /** The risk gate: pre-trade limits over the whole portfolio (spec §7.8, §8.2). */
  risk: riskSchema.optional(),
  modes: modesSchema.optional(),
  breakers: breakersSchema.optional(),
  /** The simulated exchange fills go through in backtests and paper sessions. */
  execution: executionSchema,
  /** What the append-only journal records. */
  journal: journalSchema.optional(),
  monitoring: monitoringSchema.optional(),
  intelligence: intelligenceSchema.optional(),
  /** Paper/live: where the bars come from. */
  feed: feedSchema.optional(),
});

export type PipelineConfigInput = z.input<typeof pipelineConfigSchema>;
export type PipelineConfigFile = z.output<typeof pipelineConfigSchema>;
