/**
 * Real Binance payloads from the shared data folder (see ../shared/data/MANIFEST.md), shaped for
 * the local server: REST depth snapshots keyed by the symbol whose diff stream contains their
 * `lastUpdateId`, the recorded diff-depth events per symbol in wire order, a recorded trade and a
 * recorded klines answer.
 */
import { readFileSync } from 'node:fs';
import type { Kline, SymbolSpec } from './binanceServer';
import type { DepthSnapshot, WireLevel } from './binanceStreams';

export interface RecordedDepthEvent {
  readonly E: number;
  readonly s: string;
  readonly U: number;
  readonly u: number;
  readonly b: readonly WireLevel[];
  readonly a: readonly WireLevel[];
}

export interface RecordedBooks {
  /** Binance symbol → REST snapshot. */
  readonly snapshots: ReadonlyMap<string, DepthSnapshot>;
  /** Every depthUpdate of the combined stream, in recorded order (symbols interleaved). */
  readonly events: readonly RecordedDepthEvent[];
}

/** Exchange filters of the recorded symbols (tick and lot sizes as Binance listed them in 2021). */
export const RECORDED_BOOK_SYMBOLS: readonly SymbolSpec[] = [
  spec('NKNUSDT', 'NKN', 'USDT', '0.00010000', '0.10000000', '5.00000000'),
  spec('BLZETH', 'BLZ', 'ETH', '0.00000001', '1.00000000', '0.00500000'),
  spec('LRCBTC', 'LRC', 'BTC', '0.00000001', '1.00000000', '0.00010000'),
  spec('RUNEEUR', 'RUNE', 'EUR', '0.00100000', '0.01000000', '10.00000000'),
];

function spec(
  symbol: string,
  baseAsset: string,
  quoteAsset: string,
  tickSize: string,
  stepSize: string,
  minNotional: string,
): SymbolSpec {
  return {
    symbol,
    baseAsset,
    quoteAsset,
    tickSize,
    minPrice: tickSize,
    maxPrice: '1000000.00000000',
    stepSize,
    minQty: stepSize,
    maxQty: '90000000.00000000',
    minNotional,
  };
}

/** Loads the depth snapshots and the combined stream's depth events. */
export function loadRecordedBooks(snapshotsFile: string, streamFile: string): RecordedBooks {
  const events: RecordedDepthEvent[] = [];
  for (const line of readFileSync(streamFile, 'utf8').split('\n')) {
    if (line.trim() === '') continue;
    const message = JSON.parse(line) as { stream: string; data: RecordedDepthEvent & { e: string } };
    if (message.data.e === 'depthUpdate') events.push(message.data);
  }
  const snapshots = new Map<string, DepthSnapshot>();
  for (const line of readFileSync(snapshotsFile, 'utf8').split('\n')) {
    if (line.trim() === '') continue;
    const snapshot = JSON.parse(line) as DepthSnapshot;
    const owner = events.find((e) => e.U <= snapshot.lastUpdateId + 1 && snapshot.lastUpdateId <= e.u + 1);
    if (!owner) throw new Error(`no recorded depth event around lastUpdateId ${snapshot.lastUpdateId}`);
    snapshots.set(owner.s, snapshot);
  }
  return { snapshots, events };
}

/** The recorded `ethusdt@trade` event (payload without the combined-stream envelope). */
export function loadRecordedTrade(
  file: string,
): Record<string, unknown> & { t: number; p: string; q: string; T: number; m: boolean } {
  const message = JSON.parse(readFileSync(file, 'utf8')) as {
    data: Record<string, unknown> & { t: number; p: string; q: string; T: number; m: boolean };
  };
  return message.data;
}

/** A recorded `/api/v3/klines` answer as the server's klines. */
export function loadRecordedKlines(file: string): Kline[] {
  const rows = JSON.parse(readFileSync(file, 'utf8')) as [
    number,
    string,
    string,
    string,
    string,
    string,
    number,
    string,
    number,
    string,
    string,
    string,
  ][];
  return rows.map((r) => ({
    openTime: r[0],
    open: r[1],
    high: r[2],
    low: r[3],
    close: r[4],
    volume: r[5],
    quoteVolume: r[7],
    trades: r[8],
    takerBuyBaseVolume: r[9],
    takerBuyQuoteVolume: r[10],
  }));
}
