/**
 * Ingest throughput of the ccxt.pro trade path: the local Binance server (same process, same
 * thread) pushes `messages` trades on `btcusdt@trade` as fast as the socket drains; measured until
 * the last one comes out as a TradeTick of {@link makeCcxtTradeSource}. The same run with a bare
 * ccxt `watchTrades` loop shows what ccxt itself costs and what the source adds on top. Trade ids
 * are consecutive, so lost and repeated messages are counted.
 *
 * Wiring (bench/index.ts): `results['ccxtIngest'] = await benchCcxtIngest(200_000);` — it prints
 * its own lines and returns the numbers.
 */
import type * as ccxt from 'ccxt';
import { makeCcxtTradeSource } from '../sources/ccxtMarketData';
import { startBinanceServer, type BinanceServer } from '../test/support/binanceServer';
import { makeLocalProBinance } from '../test/support/ccxtLocal';

export interface CcxtIngestResult {
  readonly [key: string]: number;
  readonly messages: number;
  /** Through makeCcxtTradeSource (ccxt.pro watchTrades + normalisation + de-duplication). */
  readonly msgPerSecond: number;
  readonly usPerMessage: number;
  /** A bare ccxt.pro watchTrades loop, for comparison. */
  readonly rawCcxtMsgPerSecond: number;
  readonly rawCcxtUsPerMessage: number;
  readonly lost: number;
  readonly duplicates: number;
  /** Process memory after the source run. */
  readonly rssMb: number;
  readonly heapUsedMb: number;
}

const STREAM = 'btcusdt@trade';
/** Bytes queued in a socket above which the producer yields to let the consumer catch up. */
const MAX_BUFFERED = 4 * 1024 * 1024;
const BATCH = 256;

function line(label: string, value: string): void {
  process.stdout.write(`  ${label.padEnd(44)} ${value}\n`);
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Compact Binance trade events with consecutive ids from `firstId`, realistic values and rising times, pre-serialized (not part of the timing). */
export function tradeEvents(count: number, firstId: number): string[] {
  const out = new Array<string>(count);
  let price = 43_000;
  let t = Date.UTC(2024, 0, 1);
  for (let i = 0; i < count; i++) {
    price = Math.max(1, price + (((i * 7919) % 13) - 6) * 0.01);
    t += (i * 31) % 7;
    const qty = (((i * 104729) % 100000) / 1e6 + 0.00001).toFixed(5);
    out[i] =
      `{"e":"trade","E":${t + 1},"s":"BTCUSDT","t":${firstId + i},"p":"${price.toFixed(2)}","q":"${qty}","T":${t},"m":${i % 3 === 0},"M":true}`;
  }
  return out;
}

interface Counter {
  received: number;
  lost: number;
  duplicates: number;
  lastId: number;
  lastAt: bigint;
}

function count(counter: Counter, id: number): void {
  if (id <= counter.lastId) counter.duplicates += 1;
  else {
    if (id > counter.lastId + 1) counter.lost += id - counter.lastId - 1;
    counter.lastId = id;
  }
  counter.received += 1;
  counter.lastAt = process.hrtime.bigint();
}

async function waitFor(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`benchCcxtIngest: timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Pushes the events, paced by the socket's queue, and waits until the consumer has them all (or stalls). */
async function pump(server: BinanceServer, events: readonly string[], counter: Counter): Promise<number> {
  const start = process.hrtime.bigint();
  let sent = 0;
  while (sent < events.length) {
    if (server.maxBufferedAmount() > MAX_BUFFERED) {
      await tick();
      continue;
    }
    const end = Math.min(events.length, sent + BATCH);
    for (; sent < end; sent++) server.pushStream(STREAM, events[sent]!);
    await tick();
  }
  let last = counter.received;
  let stalledSince = Date.now();
  while (counter.received < events.length) {
    await new Promise((resolve) => setTimeout(resolve, 1));
    if (counter.received !== last) {
      last = counter.received;
      stalledSince = Date.now();
    } else if (Date.now() - stalledSince > 3_000) break; // the rest is lost
  }
  return Number(counter.lastAt - start) / 1e9;
}

async function runSource(
  server: BinanceServer,
  events: readonly string[],
  firstId: number,
): Promise<{ seconds: number; counter: Counter }> {
  const counter: Counter = {
    received: 0,
    lost: 0,
    duplicates: 0,
    lastId: firstId - 1,
    lastAt: process.hrtime.bigint(),
  };
  const subscription = makeCcxtTradeSource({
    exchange: 'binance',
    symbols: ['BTC/USDT'],
    apiUrl: server.url,
    wsUrl: server.url.replace(/^http/, 'ws'),
    silenceMs: 60_000,
  }).subscribe((event) => {
    if (event.kind === 'trade') count(counter, Number(event.tradeId));
  });
  try {
    await waitFor(() => server.subscriberCount(STREAM) === 1, 'the source to subscribe');
    const seconds = await pump(server, events, counter);
    return { seconds, counter };
  } finally {
    subscription.unsubscribe();
    await waitFor(() => server.streamConnections().length === 0, 'the source to close its socket');
  }
}

async function runRawCcxt(
  server: BinanceServer,
  events: readonly string[],
  firstId: number,
): Promise<{ seconds: number; counter: Counter }> {
  const counter: Counter = {
    received: 0,
    lost: 0,
    duplicates: 0,
    lastId: firstId - 1,
    lastAt: process.hrtime.bigint(),
  };
  const exchange = makeLocalProBinance(server.url, { options: { tradesLimit: 2_000 } });
  await exchange.loadHttpProxyAgent();
  let running = true;
  const loop = (async () => {
    while (running) {
      let trades: ccxt.Trade[];
      try {
        trades = await exchange.watchTrades('BTC/USDT');
      } catch {
        return;
      }
      for (const trade of trades) count(counter, Number(trade.id));
    }
  })();
  try {
    await waitFor(() => server.subscriberCount(STREAM) === 1, 'ccxt to subscribe');
    const seconds = await pump(server, events, counter);
    return { seconds, counter };
  } finally {
    running = false;
    await exchange.close();
    await loop;
    await waitFor(() => server.streamConnections().length === 0, 'ccxt to close its socket');
  }
}

/**
 * Measures and prints ccxt.pro ingest on this machine.
 *
 * @param messages how many trades to push (generated; default 200,000), or the `btcusdt@trade`
 *   event strings to push (e.g. bench/index.ts's `tradeMessages(n)`). A 20,000-trade run warms
 *   up first.
 */
export async function benchCcxtIngest(messages: number | readonly string[] = 200_000): Promise<CcxtIngestResult> {
  process.stdout.write(
    `ccxt.pro ingest: local Binance server → ccxt.pro watchTrades → TradeTick (one thread, server included)\n`,
  );
  const events = typeof messages === 'number' ? tradeEvents(messages, 1) : messages;
  if (events.length === 0) throw new Error('benchCcxtIngest: no messages');
  const firstId = (JSON.parse(events[0]!) as { t: number }).t;
  const server = await startBinanceServer();
  try {
    const warmup = 20_000;
    await runSource(server, tradeEvents(warmup, 1), 1);
    await runRawCcxt(server, tradeEvents(warmup, 1), 1);

    const raw = await runRawCcxt(server, events, firstId);
    const source = await runSource(server, events, firstId);
    global.gc?.();
    const memory = process.memoryUsage();

    const rate = (r: { seconds: number; counter: Counter }) => r.counter.received / r.seconds;
    const result: CcxtIngestResult = {
      messages: events.length,
      msgPerSecond: Math.round(rate(source)),
      usPerMessage: 1e6 / rate(source),
      rawCcxtMsgPerSecond: Math.round(rate(raw)),
      rawCcxtUsPerMessage: 1e6 / rate(raw),
      lost: events.length - (source.counter.received - source.counter.duplicates),
      duplicates: source.counter.duplicates,
      rssMb: memory.rss / 2 ** 20,
      heapUsedMb: memory.heapUsed / 2 ** 20,
    };
    line(
      'messages',
      `${events.length.toLocaleString('en')} trades (after a ${warmup.toLocaleString('en')}-trade warm-up)`,
    );
    line(
      'makeCcxtTradeSource → TradeTick',
      `${result.msgPerSecond.toLocaleString('en')} msg/s  (${result.usPerMessage.toFixed(2)} µs/msg)`,
    );
    line(
      'bare ccxt.pro watchTrades loop',
      `${result.rawCcxtMsgPerSecond.toLocaleString('en')} msg/s  (${result.rawCcxtUsPerMessage.toFixed(2)} µs/msg)`,
    );
    line('lost / repeated (source run)', `${result.lost} / ${result.duplicates}`);
    line(
      'process memory after the run',
      `RSS ${result.rssMb.toFixed(0)} MB, heap used ${result.heapUsedMb.toFixed(0)} MB`,
    );
    return result;
  } finally {
    await server.close();
  }
}

if (require.main === module) {
  const arg = process.argv.indexOf('--messages');
  const messages = arg >= 0 ? Number(process.argv[arg + 1]) : 200_000;
  benchCcxtIngest(messages).catch((error: unknown) => {
    process.stderr.write(`benchCcxtIngest failed: ${(error as Error).stack ?? String(error)}\n`);
    process.exitCode = 1;
  });
}
