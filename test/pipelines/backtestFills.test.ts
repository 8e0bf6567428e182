/**
 * Backtests fill through the paper exchange paper sessions use. With the default execution config
 * (no latency, no impact, flat fee) a market order fills at the open of the bar after its decision
 * with the fee on top — the fill backtrader and backtesting.py make — and impact and latency set
 * in the config change the fills as they should.
 */
import { deepStrictEqual, equal, ok } from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { backtestBars } from '../../pipelines/backtest';
import { parseConfig, type PipelineConfig } from '../../pipelines/config';
import { toUnits } from '../../operators/money';
import type { Bar } from '../../operators/types';
import { readBarsCsv } from '../../sources/csvBars';
import { repoRoot, requireSharedData } from '../support/sharedData';
import { tempDir } from '../support/tmp';

const SURVIVAL = path.join(repoRoot, 'config', 'survival.yaml');

interface Line {
  readonly kind: string;
  readonly [key: string]: unknown;
}

/** survival.yaml with its `execution:` section replaced. */
function withExecution(execution: string): PipelineConfig {
  const text = readFileSync(SURVIVAL, 'utf8');
  const start = text.indexOf('\nexecution:\n');
  const end = text.indexOf('\n\n', start + 1);
  return parseConfig(`${text.slice(0, start)}\nexecution:\n${execution}${text.slice(end)}`, SURVIVAL);
}

describe('backtest fills (paper exchange, real BTC/USDT 5m bars)', function () {
  this.timeout(300_000);
  const tmp = tempDir();
  let bars: Bar[];
  let file: string;
  after(() => tmp.cleanup());
  before(function () {
    file = requireSharedData(this, 'candles/binance_spot_BTCUSDT_5m_nfi.csv');
    bars = readBarsCsv(file, {
      venue: 'binance',
      symbol: 'BTC/USDT',
      timeframe: '5m',
      from: Date.UTC(2020, 11, 1),
      until: Date.UTC(2021, 3, 1),
    });
  });

  async function run(config: PipelineConfig, name: string): Promise<Line[]> {
    const result = await backtestBars(config, bars, { dataFile: file, outDir: path.join(tmp.dir, name) });
    return readFileSync(result.journalFile, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Line);
  }
  const fillsOf = (journal: readonly Line[]) => journal.filter((e) => e.kind === 'fill');

  let classic: Line[];
  it('fills each market order at the open of the bar after its decision, with the 0.1 % fee, by default', async () => {
    classic = await run(withExecution('  venue: paper\n  takerFeeBps: 10\n  slippageBps: 0\n'), 'classic');
    const byOpen = new Map(bars.map((b) => [b.tsOpen, b]));
    const orders = new Map(
      classic.filter((e) => e.kind === 'approved').map((e) => [(e['order'] as Line)['clientOrderId'], e['order']]),
    );
    // The bracket's resting stop and take-profit trigger inside a bar (test/pipelines/restingBrackets.test.ts).
    const fills = fillsOf(classic).filter((f) => (orders.get(f['clientOrderId']) as Line)['type'] === 'market');
    ok(fills.length >= 10, `${fills.length} market fills`);
    for (const fill of fills) {
      const order = orders.get(fill['clientOrderId']) as Line;
      const next = byOpen.get(fill['tsEvent'] as number)!;
      equal(next.tsOpen, order['tsEvent'], 'the bar right after the decision bar');
      equal(toUnits(fill['price'] as string), toUnits(next.open), 'at its open');
      const notional = toUnits(fill['notional'] as string);
      const fee = (notional * 1000n + 999_999n) / 1_000_000n;
      equal(toUnits(fill['fee'] as string), fee, '0.1 % of the notional, rounded up');
    }
  });

  it('moves taker fills against the order with the configured square-root impact', async () => {
    const impacted = await run(
      withExecution('  venue: paper\n  takerFeeBps: 10\n  slippageBps: 0\n  impact: { gamma: 0.5 }\n'),
      'impact',
    );
    const a = fillsOf(classic);
    const b = fillsOf(impacted);
    ok(b.length > 0);
    // Decisions up to the first fill are the same; that fill is worse by the impact.
    equal(b[0]!['clientOrderId'], a[0]!['clientOrderId']);
    const side = a[0]!['side'];
    const worse =
      side === 'buy'
        ? toUnits(b[0]!['price'] as string) > toUnits(a[0]!['price'] as string)
        : toUnits(b[0]!['price'] as string) < toUnits(a[0]!['price'] as string);
    ok(worse, `impact did not worsen ${side} ${a[0]!['price']} → ${b[0]!['price']}`);
  });

  it('with order latency, an order meets the market only after the delay: never at the open it was decided before', async () => {
    const delayed = await run(
      withExecution('  venue: paper\n  takerFeeBps: 10\n  slippageBps: 0\n  latency: { meanMs: 1500 }\n'),
      'latency',
    );
    const orders = new Map(
      delayed.filter((e) => e.kind === 'approved').map((e) => [(e['order'] as Line)['clientOrderId'], e['order']]),
    );
    const fills = fillsOf(delayed);
    ok(fills.length > 0);
    for (const fill of fills) {
      const order = orders.get(fill['clientOrderId']) as Line;
      ok((fill['tsEvent'] as number) >= (order['tsEvent'] as number) + 1500, JSON.stringify(fill));
    }
    // No market fill of the delayed run happened where and when the classic run filled the same
    // order (a resting stop placed later still triggers where the price crosses it).
    const market = (f: Line): boolean => (orders.get(f['clientOrderId']) as Line | undefined)?.['type'] === 'market';
    deepStrictEqual(
      fillsOf(classic).some((f) =>
        fills.some((g) => market(g) && g['clientOrderId'] === f['clientOrderId'] && g['tsEvent'] === f['tsEvent']),
      ),
      false,
    );
  });
});
