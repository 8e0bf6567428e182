/**
 * Resting brackets through the whole pipeline on real bars (Binance BTC/USDT 5m, the Growth
 * config, 2020-12 → 2021-01), against the paper exchange: from the close of the bar an entry
 * filled in, the position is never without a resting stop for all of it; stops fill inside bars at
 * their level (or at the open of a bar that gapped through it), not at the next open.
 */
import { readFileSync } from 'node:fs';
import { ok } from 'node:assert/strict';
import * as path from 'node:path';
import { runBacktest } from '../../pipelines/backtest';
import { toUnits, type Units } from '../../operators/money';
import { readBarsCsv } from '../../sources/csvBars';
import { repoRoot, requireSharedData } from '../support/sharedData';
import { tempDir } from '../support/tmp';

const FILE = 'candles/binance_spot_BTCUSDT_5m_nfi.csv';
const UNTIL = Date.UTC(2021, 1, 1);
const SLIPPAGE = 0.0002; // the config's 2 bps, against the order

interface Event {
  readonly kind: string;
  readonly tsEvent: number;
  readonly [key: string]: unknown;
}

describe('resting brackets on real data (Growth, BTC/USDT 5m, 2020-12 → 2021-01)', function () {
  this.timeout(300_000);
  const tmp = tempDir();
  after(() => tmp.cleanup());
  let events: Event[] = [];

  before(async function () {
    const data = requireSharedData(this, FILE);
    const outDir = path.join(tmp.dir, 'growth');
    await runBacktest({
      configFile: path.join(repoRoot, 'config', 'growth.yaml'),
      dataFile: data,
      until: UNTIL,
      outDir,
      journalLevel: 'all',
      statedSymbol: 'BTC/USDT',
    });
    events = readFileSync(path.join(outDir, 'journal.jsonl'), 'utf8')
      .split('\n')
      .filter((line) => line.length > 0)
      .map((line) => JSON.parse(line) as Event);
  });

  it('never leaves a position without a resting stop for all of it once the bar its entry filled in has closed (property over every bar)', () => {
    // The journal of a bar: its signal, then that bar's decisions (cancels, intents, approvals, the
    // venue's answers to them); the next bar's fills follow. Right after a bar's decisions, every position held must be
    // covered by resting stops, unless a market order of the symbol is still on its way.
    let position: Units = 0n;
    const stops = new Map<string, Units>();
    const market = new Set<string>();
    const types = new Map<string, string>();
    let decided = false;
    let checked = 0;
    let covered = 0;
    const check = (at: number): void => {
      checked++;
      if (position < toUnits('0.00001') || market.size > 0) return;
      let stopQty = 0n;
      for (const q of stops.values()) stopQty += q;
      ok(
        stopQty >= position,
        `after the decisions of ${new Date(at).toISOString()}: holding ${position}, resting stops ${stopQty}`,
      );
      covered++;
    };
    let lastSignal = 0;
    for (const e of events) {
      // The next bar begins with its first fill, the first event stamped after the decision, or an
      // OCO leg canceled because its sibling triggered (reported just before the sibling's fill).
      const nextBar =
        e.kind === 'fill' ||
        e.kind === 'signal' ||
        e.tsEvent > lastSignal ||
        (e.kind === 'order-canceled' && /triggered/.test(String(e['reason'])));
      if (decided && nextBar) {
        check(lastSignal);
        decided = false;
      }
      if (e.kind === 'signal') {
        lastSignal = e.tsEvent;
        decided = true;
      } else if (e.kind === 'approved') {
        const order = e['order'] as { clientOrderId: string; type: string; qty: string };
        types.set(order.clientOrderId, order.type);
        if (order.type === 'market') market.add(order.clientOrderId);
        else if (order.type.startsWith('stop')) stops.set(order.clientOrderId, toUnits(order.qty));
      } else if (e.kind === 'fill') {
        const id = e['clientOrderId'] as string;
        const qty = toUnits(e['qty'] as string);
        position += e['side'] === 'buy' ? qty : -qty;
        if (e['leavesQty'] === '0') {
          market.delete(id);
          stops.delete(id);
        } else if (stops.has(id)) stops.set(id, toUnits(e['leavesQty'] as string));
      } else if (e.kind === 'order-canceled' || e.kind === 'order-rejected') {
        market.delete(e['clientOrderId'] as string);
        stops.delete(e['clientOrderId'] as string);
      }
    }
    ok(checked > 10_000, `${checked} bars checked`);
    ok(covered > 1_000, `only ${covered} bars held a position: the property would prove little`);
  });

  it('fills a stop inside the bar at its level, or at the open of a bar that gapped through it', function () {
    const data = requireSharedData(this, FILE);
    const bars = readBarsCsv(data, { venue: 'binance', symbol: 'BTC/USDT', timeframe: '5m', until: UNTIL });
    const openAt = new Map(bars.map((b) => [b.tsOpen, b.open]));
    const stopPrice = new Map<string, number>();
    for (const e of events) {
      if (e.kind !== 'approved') continue;
      const order = e['order'] as { clientOrderId: string; type: string; stopPrice?: number };
      if (order.type === 'stop-market') stopPrice.set(order.clientOrderId, order.stopPrice!);
    }
    let inside = 0;
    let atOpen = 0;
    for (const e of events) {
      if (e.kind !== 'fill') continue;
      const stop = stopPrice.get(e['clientOrderId'] as string);
      if (stop === undefined) continue;
      const price = Number(e['price']);
      // Inside a bar a fill is stamped with the bar's close time, at the open with the bar's open
      // time: the same instant for consecutive bars, so the price tells which it was.
      if (Math.abs(price - stop * (1 - SLIPPAGE)) < 1e-6) {
        inside++;
        continue;
      }
      const open = openAt.get(e.tsEvent);
      ok(
        open !== undefined && open <= stop && Math.abs(price - open * (1 - SLIPPAGE)) < 1e-6,
        `stop ${stop} filled at ${price}: neither at its level nor at the open (${open}) of a bar that gapped through it`,
      );
      atOpen++;
    }
    ok(inside > 0, `no stop filled inside a bar (${atOpen} at an open): resting stops were not used`);
  });
});
