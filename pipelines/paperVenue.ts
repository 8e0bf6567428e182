/**
 * The one exchange simulator, configured from a pipeline config: backtests and paper sessions both
 * fill through it, so a backtest and a paper session over the same market data fill alike.
 */
import type { SchedulerLike } from 'rxjs';
import { toUnits } from '../operators/money';
import { BINANCE_SPOT_FEE_TIERS, makePaperExchange, type PaperExchange } from '../sinks/paperExchange';
import type { PipelineConfig } from './config';

/**
 * The paper exchange for a config's universe and `execution` section. With only fees and slippage
 * configured (the default), market orders fill at the next bar's open (or next trade) moved by the
 * slippage, with a flat taker fee: the classic backtest fill, reproducible against other tools.
 */
export function paperExchangeFor(
  config: PipelineConfig,
  scheduler: SchedulerLike,
  restart: Pick<Parameters<typeof makePaperExchange>[0], 'startLedger' | 'usedClientOrderIds'> = {},
): PaperExchange {
  const execution = config.execution;
  const tiers =
    execution.feeTiers === 'binance-spot'
      ? BINANCE_SPOT_FEE_TIERS
      : execution.feeTiers?.map((tier) => ({ ...tier, minVolume30d: toUnits(tier.minVolume30d) }));
  return makePaperExchange({
    instruments: config.instruments,
    initialCash: config.initialCash,
    quote: config.instrument.quote,
    ...(tiers
      ? { feeTiers: tiers }
      : {
          takerFeeBps: execution.takerFeeBps ?? 10,
          ...(execution.makerFeeBps !== undefined ? { makerFeeBps: execution.makerFeeBps } : {}),
        }),
    ...(execution.slippageBps !== undefined ? { slippageBps: execution.slippageBps } : {}),
    ...(execution.impact ? { impact: execution.impact } : {}),
    ...(execution.latency ? { latency: execution.latency } : {}),
    ...(execution.rateLimit ? { rateLimit: execution.rateLimit } : {}),
    ...(execution.seed !== undefined ? { seed: execution.seed } : {}),
    barTimeframe: config.timeframe,
    allowShort: config.sizing?.allowShort ?? false,
    ...restart,
    scheduler,
  });
}
