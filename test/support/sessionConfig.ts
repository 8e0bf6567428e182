/**
 * The config the session, restart, dashboard, crash-loop and telemetry tests run: one BTC/USDT
 * instrument on Binance's grid, TA only with short EMAs so it trades readily on a few bars, the
 * market-risk limits off, the paper exchange's costs. `extra` is appended as top-level YAML
 * (e.g. a `monitoring:` or `journal:` section).
 */
export function taSessionConfig(
  name: string,
  options: { readonly onFlat?: 'hold' | 'close'; readonly extra?: string } = {},
): string {
  return `
name: ${name}
tier: growth
instrument: { venue: binance, symbol: BTC/USDT, qtyStep: "0.00001", priceTick: 0.01, minQty: "0.00001", minNotional: "5" }
timeframe: 5m
capital: { initial: "10000" }
features:
  - { id: ema3, indicator: ema, options: [3] }
  - { id: ema8, indicator: ema, options: [8] }
  - { id: roc1, indicator: roc, options: [1] }
signals:
  ta:
    threshold: 0.5
    rules:
      - { kind: cross, group: trend, fast: ema3, slow: ema8 }
      - { kind: sign, group: momentum, feature: roc1 }
  fuse: { weights: { ta: 1 }, minScore: 0.5, minConfidence: 0.5 }
sizing: { kellyFraction: 0.5, misspecificationBuffer: 0, maxPositionPct: 0.1, onFlat: ${options.onFlat ?? 'hold'} }
risk:
  maxPositionPct: 0.2
  maxVenuePct: 0.5
  maxStrategyPct: 0.5
  maxHeat: null
  maxCorrelation: null
  volTarget: null
  maxVar: null
  marketStats: { minReturns: 20 }
execution: { venue: paper, takerFeeBps: 10, slippageBps: 2 }
${options.extra ?? ''}
`;
}
