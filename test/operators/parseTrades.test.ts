/**
 * parseTrades: Binance trade / aggTrade / kline payloads (compact, pretty, bytes, objects, inside a
 * combined-stream envelope) and ccxt unified trades become ticks and bars; everything else becomes a
 * dead letter naming what was wrong, never an error on the stream.
 */
import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { from, map } from 'rxjs';
import { parseTrades, type ParsedMessage, type RawMarketMessage } from '../../operators/parseTrades';
import type { Bar, DeadLetter, TradeTick } from '../../operators/types';
import { makeTestScheduler } from '../support/marbles';
import { requireSharedData } from '../support/sharedData';

type Json = Record<string, unknown>;

/** The one `ethusdt@trade` message of the shared data (a pretty-printed combined-stream envelope). */
function realTradeEnvelope(ctx: Mocha.Context): { text: string; envelope: Json; data: Json } {
  const text = readFileSync(requireSharedData(ctx, 'messages/binance_spot_ws_trade_ETHUSDT_nautilus.json'), 'utf8');
  const envelope = JSON.parse(text) as Json;
  return { text, envelope, data: envelope['data'] as Json };
}

/** The 265 lines of the recorded combined stream. */
function combinedStreamLines(ctx: Mocha.Context): string[] {
  return readFileSync(requireSharedData(ctx, 'messages/binance_spot_ws_combined_stream_2021-10-12.jsonl'), 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '');
}

function firstLineWithEvent(lines: readonly string[], event: string): { line: string; data: Json } {
  for (const line of lines) {
    const data = (JSON.parse(line) as Json)['data'] as Json;
    if (data['e'] === event) return { line, data };
  }
  throw new Error(`no ${event} message in the combined stream`);
}

/** The bare payload exactly as it sits inside the envelope text: `{"stream":…,"data":<this>}`. */
function dataText(line: string): string {
  const start = line.indexOf('"data":') + '"data":'.length;
  return line.slice(start, line.lastIndexOf('}'));
}

const ETH_TICK: Omit<TradeTick, 'tsInit'> = {
  kind: 'trade',
  venue: 'binance',
  symbol: 'ETH/USDT',
  price: 4149.74,
  qty: 0.4387,
  side: 'sell', // "m": true: the buyer was the maker, so the aggressor sold
  tradeId: '705291099',
  tsEvent: 1639351062243, // "T" (trade time), not "E" (event time)
};

const NKN_AGG_TICK: Omit<TradeTick, 'tsInit'> = {
  kind: 'trade',
  venue: 'binance',
  symbol: 'NKN/USDT',
  price: 0.3528,
  qty: 58,
  side: 'buy',
  tradeId: '15683430',
  tsEvent: 1633998523963,
};

const at = <T extends object>(value: T, tsInit: number): T & { tsInit: number } => ({ ...value, tsInit });

/** A well-formed compact trade payload with some fields replaced (or removed with `undefined`). */
function trade(overrides: Json = {}): Json {
  const base: Json = {
    e: 'trade',
    E: 1700000000001,
    s: 'BTCUSDT',
    t: 42,
    p: '37000.50',
    q: '0.01000',
    b: 1,
    a: 2,
    T: 1700000000000,
    m: false,
    M: true,
  };
  const out: Json = {};
  for (const [key, value] of Object.entries({ ...base, ...overrides })) if (value !== undefined) out[key] = value;
  return out;
}

function aggTrade(overrides: Json = {}): Json {
  const base: Json = {
    e: 'aggTrade',
    E: 1700000000001,
    s: 'BTCUSDT',
    a: 7,
    p: '37000.50',
    q: '0.01000',
    f: 1,
    l: 2,
    T: 1700000000000,
    m: true,
    M: true,
  };
  const out: Json = {};
  for (const [key, value] of Object.entries({ ...base, ...overrides })) if (value !== undefined) out[key] = value;
  return out;
}

function kline(k: Json, outer: Json = {}): Json {
  return {
    e: 'kline',
    E: 1700000060000,
    s: 'BTCUSDT',
    k: {
      t: 1700000040000,
      T: 1700000099999,
      s: 'BTCUSDT',
      i: '1m',
      o: '100.0',
      h: '110.0',
      l: '95.0',
      c: '105.0',
      v: '12.5',
      n: 17,
      x: true,
      ...k,
    },
    ...outer,
  };
}

function ccxtTrade(overrides: Json = {}): Json {
  return {
    info: {},
    id: '991',
    timestamp: 1700000000000,
    datetime: '2023-11-14T22:13:20.000Z',
    symbol: 'BTC/USDT',
    order: undefined,
    type: undefined,
    side: 'sell',
    takerOrMaker: 'taker',
    price: 37000.5,
    amount: 0.25,
    cost: 9250.125,
    fee: undefined,
    fees: [],
    ...overrides,
  };
}

const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);

/**
 * Replaces each dead letter's reason by the pattern's source when the reason matches the pattern
 * for that input, so a marble diagram can assert "the reason names the field" while a mismatch
 * still shows the actual reason in the diff.
 */
function reasonsMatching(patterns: readonly (RegExp | undefined)[]) {
  return map((output: ParsedMessage, index: number): ParsedMessage => {
    const pattern = patterns[index];
    if (output.kind !== 'dead-letter' || !pattern) return output;
    return pattern.test(output.reason) ? { ...output, reason: pattern.source } : output;
  });
}

function deadLetter(raw: unknown, tsInit: number, reason: RegExp): DeadLetter {
  return { kind: 'dead-letter', stage: 'parseTrades', reason: reason.source, raw, tsInit };
}

/** Parses each input, one subscription, outside virtual time (clock pinned at 0). */
function parseAll(
  inputs: readonly unknown[],
  config: Parameters<typeof parseTrades>[0] = {},
): { outputs: ParsedMessage[]; error: unknown } {
  const outputs: ParsedMessage[] = [];
  let error: unknown;
  from(inputs as RawMarketMessage[])
    .pipe(parseTrades({ scheduler: makeTestScheduler(), ...config }))
    .subscribe({ next: (o) => outputs.push(o), error: (e: unknown) => (error = e) });
  return { outputs, error };
}

describe('parseTrades', () => {
  describe('Binance trades: fast path and general path agree', () => {
    it('gives the same tick for a real trade as compact text, pretty text, object, bytes and inside its envelope', function () {
      const { text, envelope, data } = realTradeEnvelope(this);
      const compact = JSON.stringify(data);
      assert.ok(compact.startsWith('{"e":"trade",'), 'the compact form is the one the fast path reads');
      makeTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
        const source = cold<RawMarketMessage>('abcdefgh|', {
          a: compact,
          b: JSON.stringify(data, null, 2),
          c: data,
          d: utf8(compact),
          e: Buffer.from(JSON.stringify(data, null, 1)),
          f: text,
          g: envelope,
          h: utf8(JSON.stringify(envelope)),
        });
        const expected = '                   abcdefgh|';
        expectObservable(source.pipe(parseTrades())).toBe(expected, {
          a: at(ETH_TICK, 0),
          b: at(ETH_TICK, 1),
          c: at(ETH_TICK, 2),
          d: at(ETH_TICK, 3),
          e: at(ETH_TICK, 4),
          f: at(ETH_TICK, 5),
          g: at(ETH_TICK, 6),
          h: at(ETH_TICK, 7),
        });
        expectSubscriptions(source.subscriptions).toBe('^-------!');
      });
    });

    it('gives the same tick for a real aggTrade as compact text (verbatim from the stream), pretty text, object and envelope', function () {
      const lines = combinedStreamLines(this);
      const { line, data } = firstLineWithEvent(lines, 'aggTrade');
      const compact = dataText(line);
      assert.ok(compact.startsWith('{"e":"aggTrade",'));
      makeTestScheduler().run(({ cold, expectObservable }) => {
        const source = cold<RawMarketMessage>('a-b-c-d-e|', {
          a: compact,
          b: JSON.stringify(data, null, 4),
          c: data,
          d: line,
          e: utf8(compact),
        });
        expectObservable(source.pipe(parseTrades())).toBe('a-b-c-d-e|', {
          a: at(NKN_AGG_TICK, 0),
          b: at(NKN_AGG_TICK, 2),
          c: at(NKN_AGG_TICK, 4),
          d: at(NKN_AGG_TICK, 6),
          e: at(NKN_AGG_TICK, 8),
        });
      });
    });

    it('reads the trade id from "t" for trades and from "a" for aggTrades (never the seller order id "a" of a trade)', () => {
      makeTestScheduler().run(({ cold, expectObservable }) => {
        const t = trade({ t: 111, a: 999 });
        const g = aggTrade({ a: 222 });
        const source = cold<RawMarketMessage>('abcd|', { a: JSON.stringify(t), b: t, c: JSON.stringify(g), d: g });
        const tick = {
          kind: 'trade',
          venue: 'binance',
          symbol: 'BTC/USDT',
          price: 37000.5,
          qty: 0.01,
          tsEvent: 1700000000000,
        } as const;
        expectObservable(source.pipe(parseTrades())).toBe('abcd|', {
          a: { ...tick, side: 'buy', tradeId: '111', tsInit: 0 },
          b: { ...tick, side: 'buy', tradeId: '111', tsInit: 1 },
          c: { ...tick, side: 'sell', tradeId: '222', tsInit: 2 },
          d: { ...tick, side: 'sell', tradeId: '222', tsInit: 3 },
        });
      });
    });

    it('stamps tsInit from the configured scheduler (the TestScheduler frame), not the wall clock', () => {
      const scheduler = makeTestScheduler();
      scheduler.run(({ hot, expectObservable }) => {
        const raw = JSON.stringify(trade());
        const source = hot<RawMarketMessage>('--a-----b----c|', { a: raw, b: raw, c: 'garbage' });
        const tick: Omit<TradeTick, 'tsInit'> = {
          kind: 'trade',
          venue: 'kraken',
          symbol: 'BTC/USDT',
          price: 37000.5,
          qty: 0.01,
          side: 'buy',
          tradeId: '42',
          tsEvent: 1700000000000,
        };
        expectObservable(
          source.pipe(parseTrades({ venue: 'kraken', scheduler }), reasonsMatching([undefined, undefined, /not JSON/])),
        ).toBe('--a-----b----c|', {
          a: at(tick, 2),
          b: at(tick, 8),
          c: deadLetter('garbage', 13, /not JSON/),
        });
      });
    });

    it('agrees between compact text and the parsed object for arbitrary field values (fast path ≡ general path)', () => {
      // Mostly good values with edge cases mixed in, so that most payloads are one field away from a tick.
      const goodDecimal = fc
        .tuple(fc.nat(1_000_000), fc.nat(99_999_999))
        .map(([w, f]) => `${w}.${String(f).padStart(8, '0')}`);
      const edgeDecimal = fc.constantFrom(
        '0',
        '0.0',
        '-1',
        '1e400',
        'NaN',
        '',
        '1.',
        '.5',
        '01.5',
        '1e-3',
        'Infinity',
        '-0',
      );
      const decimal = fc.oneof(
        { arbitrary: goodDecimal, weight: 4 },
        { arbitrary: edgeDecimal, weight: 1 },
        { arbitrary: fc.double(), weight: 1 },
      );
      const field = <T>(arb: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> =>
        fc.option(arb, { nil: undefined, freq: 12 });
      const payload = fc.record({
        e: fc.constantFrom('trade', 'aggTrade'),
        E: fc.nat(),
        s: field(
          fc.oneof(
            { arbitrary: fc.constantFrom('BTCUSDT', 'ethbtc', 'X'), weight: 4 },
            { arbitrary: fc.string(), weight: 1 },
          ),
        ),
        t: field(
          fc.oneof(
            { arbitrary: fc.nat(), weight: 4 },
            { arbitrary: fc.integer({ min: -9, max: 9 }), weight: 1 },
            { arbitrary: fc.string(), weight: 1 },
          ),
        ),
        a: field(fc.oneof({ arbitrary: fc.nat(), weight: 4 }, { arbitrary: fc.string(), weight: 1 })),
        p: field(decimal),
        q: field(decimal),
        T: field(
          fc.oneof(
            { arbitrary: fc.nat({ max: 2 ** 45 }), weight: 3 },
            { arbitrary: fc.integer({ min: -1e9, max: -1 }), weight: 1 },
            { arbitrary: fc.double(), weight: 1 },
            { arbitrary: fc.string(), weight: 1 },
          ),
        ),
        m: field(
          fc.oneof(
            { arbitrary: fc.boolean(), weight: 4 },
            { arbitrary: fc.constantFrom<unknown>('true', 1, null), weight: 1 },
          ),
        ),
        M: fc.boolean(),
      });
      fc.assert(
        fc.property(payload, (fields) => {
          const text = JSON.stringify(fields);
          const { outputs } = parseAll([text, JSON.parse(text) as Json]);
          const [fromText, fromObject] = outputs;
          assert.ok(fromText && fromObject);
          if (fromText.kind === 'dead-letter' || fromObject.kind === 'dead-letter') {
            assert.equal(
              fromText.kind,
              fromObject.kind,
              `${text}: text gave ${fromText.kind}, object gave ${fromObject.kind}`,
            );
          } else {
            assert.deepEqual(fromText, fromObject, text);
          }
        }),
        { numRuns: 1000 },
      );
    });

    it('reads a repeated key as JSON.parse does (the last one wins), whether compact or not', () => {
      const text = JSON.stringify(trade()).replace('"M":true}', '"M":true,"p":"1.25"}');
      const { outputs } = parseAll([text, JSON.parse(text) as Json]);
      assert.equal((JSON.parse(text) as Json)['p'], '1.25');
      assert.deepEqual(outputs[0], outputs[1]);
      assert.equal((outputs[0] as TradeTick).price, 1.25);
    });
  });

  describe('combined streams and klines', () => {
    it('unwraps the combined-stream envelope, whose raw text stays the dead letter’s raw', () => {
      makeTestScheduler().run(({ cold, expectObservable }) => {
        const env = JSON.stringify({ stream: 'btcusdt@aggTrade', data: aggTrade() });
        const bad = JSON.stringify({ stream: 'btcusdt@aggTrade', data: 'oops' });
        const source = cold<RawMarketMessage>('a-b|', { a: env, b: bad });
        const tick: TradeTick = {
          kind: 'trade',
          venue: 'binance',
          symbol: 'BTC/USDT',
          price: 37000.5,
          qty: 0.01,
          side: 'sell',
          tradeId: '7',
          tsEvent: 1700000000000,
          tsInit: 0,
        };
        expectObservable(source.pipe(parseTrades(), reasonsMatching([undefined, /"data"/]))).toBe('a-b|', {
          a: tick,
          b: deadLetter(bad, 2, /"data"/),
        });
      });
    });

    it('turns a closed kline into a Bar (tsEvent = open + interval) and an open one into a dead letter', function () {
      const lines = combinedStreamLines(this);
      const { line, data } = firstLineWithEvent(lines, 'kline');
      const closed = { ...data, k: { ...(data['k'] as Json), x: true } };
      const bar: Bar = {
        kind: 'bar',
        venue: 'binance',
        symbol: 'NKN/USDT',
        timeframe: '1m',
        tsOpen: 1633998480000,
        tsEvent: 1633998540000,
        open: 0.3527,
        high: 0.3528,
        low: 0.3522,
        close: 0.3528,
        volume: 25877,
        trades: 30,
      };
      makeTestScheduler().run(({ cold, expectObservable }) => {
        const source = cold<RawMarketMessage>('a-b-c-d|', {
          a: line,
          b: JSON.stringify(closed),
          c: closed,
          d: { stream: 'nknusdt@kline_1m', data: closed },
        });
        expectObservable(source.pipe(parseTrades())).toBe('a-b-c-d|', {
          a: { kind: 'unused-message', stage: 'parseTrades', type: 'kline-forming', tsInit: 0 },
          b: bar,
          c: bar,
          d: bar,
        });
      });
    });

    it('gives exactly one output per message of the recorded combined stream: 2 ticks, 0 bars, 263 known-but-unused, 0 dead letters', function () {
      const lines = combinedStreamLines(this);
      assert.equal(lines.length, 265);
      const { outputs, error } = parseAll(lines);
      assert.equal(error, undefined);
      assert.equal(outputs.length, lines.length);
      const ticks = outputs.filter((o): o is TradeTick => o.kind === 'trade');
      assert.deepEqual(
        ticks.map((t) => [t.symbol, t.price, t.qty, t.side, t.tradeId, t.tsEvent]),
        [
          ['NKN/USDT', 0.3528, 58, 'buy', '15683430', 1633998523963],
          ['LRC/BTC', 0.00000638, 177, 'buy', '9213679', 1633998534486],
        ],
      );
      // Normal traffic of a shared socket is counted apart, so a real dead letter stands out.
      assert.equal(outputs.filter((o) => o.kind === 'dead-letter').length, 0);
      const unused = outputs.flatMap((o) => (o.kind === 'unused-message' ? [o.type] : []));
      assert.equal(unused.length, 263);
      assert.equal(unused.filter((t) => t === 'depthUpdate').length, 177);
      assert.equal(unused.filter((t) => t === 'kline-forming').length, 2);
      assert.equal(unused.filter((t) => t === 'bookTicker').length, 84, 'spot bookTicker payloads have no event type');
    });
  });

  describe('ccxt unified trades', () => {
    it('turns a ccxt trade object into a tick, keeping its (already unified) symbol and falling back to the timestamp as id', () => {
      makeTestScheduler().run(({ cold, expectObservable }) => {
        const withoutId = ccxtTrade({ id: undefined, side: 'buy', symbol: 'ETH/BTC', price: 0.05, amount: 2 });
        const source = cold<RawMarketMessage>('a-b|', { a: ccxtTrade(), b: withoutId });
        expectObservable(source.pipe(parseTrades({ venue: 'kraken' }))).toBe('a-b|', {
          a: {
            kind: 'trade',
            venue: 'kraken',
            symbol: 'BTC/USDT',
            price: 37000.5,
            qty: 0.25,
            side: 'sell',
            tradeId: '991',
            tsEvent: 1700000000000,
            tsInit: 0,
          },
          b: {
            kind: 'trade',
            venue: 'kraken',
            symbol: 'ETH/BTC',
            price: 0.05,
            qty: 2,
            side: 'buy',
            tradeId: '1700000000000',
            tsEvent: 1700000000000,
            tsInit: 2,
          },
        });
      });
    });
  });

  describe('symbol unification', () => {
    it('uses the configured map first, then splits at a known quote suffix, else keeps the exchange id', () => {
      makeTestScheduler().run(({ cold, expectObservable }) => {
        const symbols = ['BTCUSDT', 'ETHBTC', 'BNBFDUSD', 'solusdc', 'XRPTUSD', 'FOOBAR', 'USDT'];
        const values: Record<string, RawMarketMessage> = {};
        symbols.forEach((s, i) => (values[String.fromCharCode(97 + i)] = JSON.stringify(trade({ s }))));
        const source = cold<RawMarketMessage>('abcdefg|', values);
        const unified = (symbol: string, tsInit: number): TradeTick => ({
          kind: 'trade',
          venue: 'binance',
          symbol,
          price: 37000.5,
          qty: 0.01,
          side: 'buy',
          tradeId: '42',
          tsEvent: 1700000000000,
          tsInit,
        });
        expectObservable(source.pipe(parseTrades({ symbols: { BTCUSDT: 'XBT/USDT' } }))).toBe('abcdefg|', {
          a: unified('XBT/USDT', 0),
          b: unified('ETH/BTC', 1),
          c: unified('BNB/FDUSD', 2),
          d: unified('SOL/USDC', 3),
          e: unified('XRP/TUSD', 4),
          f: unified('FOOBAR', 5),
          g: unified('USDT', 6),
        });
      });
    });
  });

  describe('malformed input becomes a dead letter naming what was wrong', () => {
    /** `raw` is what the dead letter carries: the input itself, or for bytes the decoded text. */
    const cases: ReadonlyArray<{ name: string; input: unknown; raw?: unknown; reason: RegExp }> = [
      { name: 'not JSON', input: 'hello {', reason: /not JSON/ },
      { name: 'empty string', input: '', reason: /not JSON/ },
      {
        name: 'JSON array (a REST klines response)',
        input: '[[1634943780000,"60685.22"]]',
        reason: /JSON object.*array/,
      },
      { name: 'JSON number', input: '42', reason: /JSON object.*number/ },
      { name: 'JSON null', input: 'null', reason: /JSON object.*null/ },
      {
        name: 'bytes that are not JSON',
        input: utf8('\u00ff\u0000binary'),
        raw: '\u00ff\u0000binary',
        reason: /not JSON/,
      },
      { name: 'a number instead of a message', input: 42, reason: /string, bytes or an object.*number/ },
      { name: 'trade without price', input: JSON.stringify(trade({ p: undefined })), reason: /"p" \(price\).*nothing/ },
      {
        name: 'trade with negative price',
        input: JSON.stringify(trade({ p: '-1.5' })),
        reason: /"p" \(price\).*"-1\.5"/,
      },
      { name: 'trade with zero price', input: trade({ p: '0.00000000' }), reason: /"p" \(price\)/ },
      { name: 'trade with price "NaN"', input: JSON.stringify(trade({ p: 'NaN' })), reason: /"p" \(price\).*"NaN"/ },
      { name: 'trade object with price NaN', input: trade({ p: NaN }), reason: /"p" \(price\).*NaN/ },
      {
        name: 'trade with price as a boolean',
        input: JSON.stringify(trade({ p: true })),
        reason: /"p" \(price\).*boolean/,
      },
      { name: 'trade with zero quantity', input: JSON.stringify(trade({ q: '0' })), reason: /"q" \(quantity\)/ },
      { name: 'trade with quantity as an array', input: trade({ q: ['1'] }), reason: /"q" \(quantity\).*array/ },
      {
        name: 'trade with trade time as a string',
        input: JSON.stringify(trade({ T: '1700000000000' })),
        reason: /"T" \(trade time/,
      },
      {
        name: 'trade with fractional trade time',
        input: JSON.stringify(trade({ T: 1700000000000.5 })),
        reason: /"T" \(trade time/,
      },
      { name: 'trade without symbol', input: JSON.stringify(trade({ s: undefined })), reason: /"s" \(symbol\)/ },
      { name: 'trade with numeric symbol', input: trade({ s: 5 }), reason: /"s" \(symbol\).*number 5/ },
      { name: 'trade without trade id', input: JSON.stringify(trade({ t: undefined })), reason: /"t" \(trade id\)/ },
      {
        name: 'aggTrade without aggregate id',
        input: JSON.stringify(aggTrade({ a: undefined })),
        reason: /"a" \(trade id\)/,
      },
      {
        name: 'trade with "m" as a string',
        input: JSON.stringify(trade({ m: 'true' })),
        reason: /"m" \(buyer is maker\)/,
      },
      {
        name: 'an event type nobody sends',
        input: JSON.stringify({ e: 'depthUpdat', E: 1, s: 'BTCUSDT', U: 1, u: 2, b: [], a: [] }),
        reason: /unsupported event type "depthUpdat"/,
      },
      { name: 'object without event type', input: { hello: 'world' }, reason: /"e"/ },
      { name: 'envelope whose data is an array', input: { stream: 'x', data: [1] }, reason: /"data".*array/ },
      { name: 'kline without "k"', input: { e: 'kline', s: 'BTCUSDT' }, reason: /"k"/ },
      { name: 'kline with an unknown interval', input: kline({ i: '7m' }), reason: /"i" \(interval\).*"7m"/ },
      { name: 'kline with a non-numeric open', input: kline({ o: 'abc' }), reason: /"o".*"abc"/ },
      { name: 'kline with a negative volume', input: JSON.stringify(kline({ v: '-1' })), reason: /"v"/ },
      { name: 'kline whose high is below its low', input: kline({ h: '90.0' }), reason: /inconsistent.*h=90/ },
      { name: 'kline with string open time', input: kline({ t: '1700000040000' }), reason: /"t" \(open time\)/ },
      { name: 'ccxt trade with price as a string', input: ccxtTrade({ price: '37000' }), reason: /"price".*"37000"/ },
      { name: 'ccxt trade with negative amount', input: ccxtTrade({ amount: -1 }), reason: /"amount".*-1/ },
      { name: 'ccxt trade with side "long"', input: ccxtTrade({ side: 'long' }), reason: /"side".*"long"/ },
      { name: 'ccxt trade with no symbol', input: ccxtTrade({ symbol: undefined }), reason: /"symbol"/ },
      { name: 'ccxt trade with float timestamp', input: ccxtTrade({ timestamp: 1.5 }), reason: /"timestamp"/ },
    ];

    it(`emits one dead letter per bad input and keeps the stream alive (${cases.length} kinds), then still parses a good message`, () => {
      const letters = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
      assert.ok(cases.length < letters.length);
      const good = JSON.stringify(trade());
      makeTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
        const inputs: Record<string, RawMarketMessage> = {};
        const expectedValues: Record<string, ParsedMessage> = {};
        cases.forEach((c, i) => {
          inputs[letters[i]!] = c.input as RawMarketMessage;
          expectedValues[letters[i]!] = deadLetter('raw' in c ? c.raw : c.input, i, c.reason);
        });
        const goodKey = letters[cases.length]!;
        inputs[goodKey] = good;
        expectedValues[goodKey] = {
          kind: 'trade',
          venue: 'binance',
          symbol: 'BTC/USDT',
          price: 37000.5,
          qty: 0.01,
          side: 'buy',
          tradeId: '42',
          tsEvent: 1700000000000,
          tsInit: cases.length,
        };
        const diagram = `${letters.slice(0, cases.length + 1)}|`;
        const source = cold<RawMarketMessage>(diagram, inputs);
        expectObservable(source.pipe(parseTrades(), reasonsMatching(cases.map((c) => c.reason)))).toBe(
          diagram,
          expectedValues,
        );
        expectSubscriptions(source.subscriptions).toBe(`^${'-'.repeat(cases.length)}!`);
      });
    });

    it('rejects a trade whose trade time is negative, whether compact or not (the fast path must not accept it)', () => {
      makeTestScheduler().run(({ cold, expectObservable }) => {
        const compact = JSON.stringify(trade({ T: -1 }));
        const pretty = JSON.stringify(trade({ T: -1 }), null, 2);
        const source = cold<RawMarketMessage>('ab|', { a: compact, b: pretty });
        expectObservable(source.pipe(parseTrades(), reasonsMatching([/"T" \(trade time/, /"T" \(trade time/]))).toBe(
          'ab|',
          {
            a: deadLetter(compact, 0, /"T" \(trade time/),
            b: deadLetter(pretty, 1, /"T" \(trade time/),
          },
        );
      });
    });

    it('rejects a price or quantity that overflows to Infinity ("1e400") instead of emitting an infinite tick', () => {
      makeTestScheduler().run(({ cold, expectObservable }) => {
        const price = JSON.stringify(trade({ p: '1e400' }));
        const qty = trade({ q: '1e400' });
        const klineHigh = kline({ h: '1e400' });
        const source = cold<RawMarketMessage>('abc|', { a: price, b: qty, c: klineHigh });
        const patterns = [/"p" \(price\)/, /"q" \(quantity\)/, /"h"/];
        expectObservable(source.pipe(parseTrades(), reasonsMatching(patterns))).toBe('abc|', {
          a: deadLetter(price, 0, patterns[0]!),
          b: deadLetter(qty, 1, patterns[1]!),
          c: deadLetter(klineHigh, 2, patterns[2]!),
        });
      });
    });

    it('turns every truncation of a compact trade into a dead letter, never a tick read from broken JSON', function () {
      const { data } = realTradeEnvelope(this);
      const compact = JSON.stringify(data);
      const prefixes = Array.from({ length: compact.length }, (_, n) => compact.slice(0, n));
      const { outputs, error } = parseAll(prefixes);
      assert.equal(error, undefined);
      assert.equal(outputs.length, prefixes.length);
      const accepted = outputs.flatMap((o, n) => (o.kind === 'dead-letter' ? [] : [prefixes[n]!]));
      assert.equal(accepted.length, 0, `${accepted.length} truncations parsed as ticks, the shortest: ${accepted[0]}`);
    });

    it('turns compact-looking trade text that JSON.parse rejects into a dead letter, never a tick (the fast path accepts no broken JSON)', () => {
      const good = JSON.stringify(trade());
      const broken = {
        'trailing comma': good.replace('"M":true}', '"M":true,}'),
        'missing last value': good.replace('"M":true}', '"M":}'),
        'unknown literal after "m"': good.replace('"m":false', '"m":falsey'),
        'garbage between fields': good.replace(',"b":1', ' GARBAGE,"b":1'),
        'missing comma': good.replace(',"b":1', '"b":1'),
        'unquoted key': good.replace('"b":1', 'b:1'),
        'broken "E"': good.replace('"E":1700000000001', '"E":x'),
        'leading zero in "T"': good.replace('"T":1700000000000', '"T":01700000000000'),
      };
      for (const text of Object.values(broken))
        assert.ok(text.startsWith('{"e":"trade",') && text.endsWith('}') && text !== good);
      const { outputs } = parseAll(Object.values(broken));
      const accepted = Object.keys(broken).filter((_, i) => outputs[i]?.kind !== 'dead-letter');
      assert.deepEqual(accepted, [], `parsed as ticks: ${accepted.join('; ')}`);
      outputs.forEach((o) => assert.match((o as DeadLetter).reason, /not JSON/));
    });

    it('does not accept a timestamp written in a form JSON does not allow (hex) through the fast path', () => {
      const text = JSON.stringify(trade()).replace('"T":1700000000000', '"T":0x18BCFE56800');
      const { outputs } = parseAll([text]);
      assert.equal(outputs[0]?.kind, 'dead-letter', `parsed as ${JSON.stringify(outputs[0])}`);
    });
  });

  describe('stream lifecycle', () => {
    it('passes a source error through after the messages before it', () => {
      makeTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
        const source = cold<RawMarketMessage>('-a--#', { a: aggTrade() }, new Error('socket closed'));
        const tick: TradeTick = {
          kind: 'trade',
          venue: 'binance',
          symbol: 'BTC/USDT',
          price: 37000.5,
          qty: 0.01,
          side: 'sell',
          tradeId: '7',
          tsEvent: 1700000000000,
          tsInit: 1,
        };
        expectObservable(source.pipe(parseTrades())).toBe('-a--#', { a: tick }, new Error('socket closed'));
        expectSubscriptions(source.subscriptions).toBe('^---!');
      });
    });

    it('completes without output on an empty source', () => {
      makeTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
        const source = cold<RawMarketMessage>('---|');
        expectObservable(source.pipe(parseTrades())).toBe('---|');
        expectSubscriptions(source.subscriptions).toBe('^--!');
      });
    });

    it('stops parsing and unsubscribes from the source when unsubscribed early', () => {
      makeTestScheduler().run(({ hot, expectObservable, expectSubscriptions }) => {
        const raw = JSON.stringify(trade());
        const source = hot<RawMarketMessage>('-a---b---c--|', { a: raw, b: raw, c: raw });
        const unsub = '                      ^---!';
        const tick: Omit<TradeTick, 'tsInit'> = {
          kind: 'trade',
          venue: 'binance',
          symbol: 'BTC/USDT',
          price: 37000.5,
          qty: 0.01,
          side: 'buy',
          tradeId: '42',
          tsEvent: 1700000000000,
        };
        expectObservable(source.pipe(parseTrades()), unsub).toBe('-a--', { a: at(tick, 1) });
        expectSubscriptions(source.subscriptions).toBe('^---!');
      });
    });
  });

  describe('properties', () => {
    const realLike = fc.constantFrom(
      JSON.stringify(trade()),
      JSON.stringify(aggTrade()),
      JSON.stringify(kline({})),
      JSON.stringify({ stream: 's', data: trade() }),
    );
    /** Real-looking text with a random cut or a random character spliced in: the nastiest input for a positional reader. */
    const mangled = fc
      .tuple(realLike, fc.nat(), fc.string({ maxLength: 3 }), fc.boolean())
      .map(([text, at, insert, cut]) => {
        const i = at % (text.length + 1);
        return cut ? text.slice(0, i) : text.slice(0, i) + insert + text.slice(i);
      });
    const anyInput = fc.oneof(
      fc.string(),
      fc.string({ unit: 'binary' }),
      fc.json(),
      mangled,
      fc.uint8Array({ maxLength: 64 }),
      fc.object(),
      fc.anything(),
      fc.record({
        e: fc.constantFrom('trade', 'aggTrade', 'kline'),
        s: fc.anything(),
        p: fc.anything(),
        q: fc.anything(),
        T: fc.anything(),
        t: fc.anything(),
        a: fc.anything(),
        m: fc.anything(),
        k: fc.anything(),
      }),
      fc.record({ stream: fc.string(), data: fc.anything() }),
      fc.record({
        price: fc.anything(),
        amount: fc.anything(),
        timestamp: fc.anything(),
        symbol: fc.anything(),
        side: fc.anything(),
      }),
    );

    it('never errors and emits exactly one output per input, for arbitrary strings, bytes and objects', () => {
      fc.assert(
        fc.property(fc.array(anyInput, { maxLength: 20 }), (inputs) => {
          const { outputs, error } = parseAll(inputs);
          assert.equal(error, undefined);
          assert.equal(outputs.length, inputs.length);
          for (const o of outputs)
            assert.ok(
              o.kind === 'trade' || o.kind === 'bar' || o.kind === 'dead-letter' || o.kind === 'unused-message',
            );
        }),
        { numRuns: 300 },
      );
    });

    /** Trade payloads whose fields come from small pools of good and edge values, as compact text, pretty text or object. */
    const tradeLike = fc
      .record({
        e: fc.constantFrom('trade', 'aggTrade'),
        s: fc.constantFrom<unknown>('BTCUSDT', '', 5),
        t: fc.constantFrom<unknown>(42, '42', -3, undefined),
        a: fc.constantFrom<unknown>(7, undefined),
        p: fc.constantFrom<unknown>('37000.5', '1.5', '0', '-1', '1e400', 'NaN', 2.5, -2, ''),
        q: fc.constantFrom<unknown>('0.01', '3', '0', '-0.5', '1e400', 1, null),
        T: fc.constantFrom<unknown>(1700000000000, 0, -1, -1700000000000, 1.5, '5', 2 ** 53),
        m: fc.constantFrom<unknown>(true, false, 'true', 1),
        form: fc.constantFrom('compact', 'pretty', 'object'),
      })
      .map(({ form, ...fields }): RawMarketMessage => {
        const payload = fields.e === 'trade' ? trade(fields) : aggTrade(fields);
        return form === 'object' ? payload : JSON.stringify(payload, null, form === 'pretty' ? 2 : undefined);
      });

    it('agrees with JSON.parse on any small edit of a compact trade: broken JSON is a dead letter, valid JSON parses as its object does', () => {
      const compacts = [
        JSON.stringify(trade()),
        JSON.stringify(aggTrade()),
        JSON.stringify(trade({ p: '0.00000638', q: '177.00000000', s: 'LRCBTC' })),
      ];
      const alphabet = fc.constantFrom(...'{}[]",:.-+0123456789eEtrufalsnx \\'.split(''));
      const edit = fc.record({
        base: fc.constantFrom(...compacts),
        at: fc.nat(),
        remove: fc.nat({ max: 3 }),
        insert: fc.array(alphabet, { maxLength: 3 }).map((cs) => cs.join('')),
      });
      fc.assert(
        fc.property(edit, ({ base, at, remove, insert }) => {
          const i = at % (base.length + 1);
          const text = base.slice(0, i) + insert + base.slice(i + remove);
          let value: unknown;
          let isJson = true;
          try {
            value = JSON.parse(text);
          } catch {
            isJson = false;
          }
          const { outputs } = parseAll(isJson ? [text, value] : [text]);
          const [fromText, fromValue] = outputs;
          if (!isJson) return assert.equal(fromText?.kind, 'dead-letter', `not JSON but parsed: ${text}`);
          if (fromText?.kind === 'dead-letter' || fromValue?.kind === 'dead-letter')
            return assert.equal(fromText?.kind, fromValue?.kind, text);
          assert.deepEqual(fromText, fromValue, text);
        }),
        { numRuns: 2000 },
      );
    });

    it('only ever emits ticks with a positive finite price and quantity and a non-negative integer trade time', () => {
      fc.assert(
        fc.property(fc.array(fc.oneof(anyInput, tradeLike, tradeLike), { maxLength: 20 }), (inputs) => {
          for (const o of parseAll(inputs).outputs) {
            if (o.kind !== 'trade') continue;
            assert.ok(Number.isFinite(o.price) && o.price > 0, `price ${o.price}`);
            assert.ok(Number.isFinite(o.qty) && o.qty > 0, `qty ${o.qty}`);
            assert.ok(Number.isSafeInteger(o.tsEvent) && o.tsEvent >= 0, `tsEvent ${o.tsEvent}`);
          }
        }),
        { numRuns: 300 },
      );
    });
  });

  describe('futures streams and known-but-unused traffic', () => {
    it('gives USD-M perpetual streams ccxt’s settle suffix (SUSHI/USDT:USDT), spot streams none', () => {
      const text = JSON.stringify({
        e: 'aggTrade',
        E: 1,
        s: 'SUSHIUSDT',
        a: 5,
        p: '1.5',
        q: '2',
        f: 1,
        l: 1,
        T: 1700000000000,
        m: false,
      });
      const swap = parseAll([text], { market: 'swap' }).outputs[0] as TradeTick;
      const spot = parseAll([text]).outputs[0] as TradeTick;
      assert.equal(swap.symbol, 'SUSHI/USDT:USDT');
      assert.equal(spot.symbol, 'SUSHI/USDT');
    });

    it('counts depth, book tickers, futures mark prices and subscription answers as unused, not as dead letters', () => {
      const inputs = [
        { e: 'depthUpdate', E: 1, s: 'BTCUSDT', U: 1, u: 2, b: [], a: [] },
        { u: 1, s: 'BTCUSDT', b: '1', B: '1', a: '2', A: '1' },
        { e: 'bookTicker', u: 1, s: 'BTCUSDT', b: '1', B: '1', a: '2', A: '1', T: 1, E: 1 },
        { e: 'markPriceUpdate', E: 1, s: 'BTCUSDT', p: '1', r: '0', T: 1 },
        { lastUpdateId: 1, bids: [], asks: [] },
        { result: null, id: 1 },
      ];
      const { outputs } = parseAll(inputs);
      assert.deepEqual(
        outputs.map((o) => (o.kind === 'unused-message' ? o.type : o.kind)),
        ['depthUpdate', 'bookTicker', 'bookTicker', 'markPriceUpdate', 'depth', 'response'],
      );
    });
  });
});
