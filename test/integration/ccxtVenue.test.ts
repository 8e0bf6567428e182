/**
 * The live venue end to end: the real ccxt binance class, over HTTP, against the local Binance server
 * (test/support/binanceServer.ts) with the simulated spot account and matching engine mounted on it
 * (test/support/binanceOrders.ts). Nothing of ours is mocked; the test double is the exchange.
 */
import { strict as assert } from 'node:assert';
import type * as ccxt from 'ccxt';
import { of as of$, Subject, type Subscription } from 'rxjs';
import { flattenOnEmergency, type EmergencyCommand, type EmergencyInput } from '../../operators/emergencyActions';
import { applyFill } from '../../operators/trackPortfolio';
import { clientOrderIdFor } from '../../operators/gateRisk';
import { toUnits } from '../../operators/money';
import type { Order, TradeTick } from '../../operators/types';
import {
  CcxtVenueError,
  makeCcxtVenue,
  parseCcxtVenueConfig,
  type CcxtVenueConfig,
  type CcxtVenueInput,
  type CcxtVenueOutput,
  type VenueAccountSnapshot,
} from '../../sinks/ccxtVenue';
import { mountBinanceOrders, type BinanceOrders, type BinanceOrdersOptions } from '../support/binanceOrders';
import { startBinanceServer, type BinanceServer } from '../support/binanceServer';
import { cashPortfolio } from '../support/fixtures';
import { consistently, eventually } from '../support/eventually';

// Binance's documentation example credentials: distinctive strings to look for in every output.
const API_KEY = 'vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A';
const SECRET = 'NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j';
const ORDER = '/api/v3/order';

interface Harness {
  readonly server: BinanceServer;
  readonly account: BinanceOrders;
  readonly input: Subject<CcxtVenueInput>;
  readonly events: CcxtVenueOutput[];
  readonly errors: unknown[];
  readonly exchanges: ccxt.Exchange[];
  subscription: Subscription;
  completed: boolean;
}

let harness: Harness | undefined;
let sequence = 0;

async function start(
  options: {
    account?: Partial<BinanceOrdersOptions>;
    config?: Partial<CcxtVenueConfig>;
    before?: (account: BinanceOrders) => void;
  } = {},
): Promise<Harness> {
  const server = await startBinanceServer();
  const account = mountBinanceOrders(server, {
    apiKey: API_KEY,
    secret: SECRET,
    balances: { USDT: '10000', BTC: '0.5' },
    prices: { BTCUSDT: '50000', ETHUSDT: '3000' },
    ...options.account,
  });
  options.before?.(account);
  const input = new Subject<CcxtVenueInput>();
  const events: CcxtVenueOutput[] = [];
  const errors: unknown[] = [];
  const exchanges: ccxt.Exchange[] = [];
  const venue = makeCcxtVenue(
    {
      exchange: 'binance',
      apiKey: API_KEY,
      secret: SECRET,
      symbols: ['BTC/USDT'],
      apiUrl: server.url,
      ccxtOptions: { fetchCurrencies: false },
      timeoutMs: 400,
      watchdogGraceMs: 200,
      recvWindowMs: 1_000,
      clockMarginMs: 100,
      pollIntervalMs: 40,
      maxOrdersPerSecond: 50,
      retry: { initialDelayMs: 40, maxRetries: 5 },
      ...options.config,
    },
    { onExchange: (exchange) => exchanges.push(exchange) },
  );
  const h: Harness = {
    server,
    account,
    input,
    events,
    errors,
    exchanges,
    subscription: undefined as unknown as Subscription,
    completed: false,
  };
  h.subscription = input.pipe(venue).subscribe({
    next: (event) => events.push(event),
    error: (error: unknown) => errors.push(error),
    complete: () => {
      h.completed = true;
    },
  });
  harness = h;
  return h;
}

function order(partial: Partial<Order> & Pick<Order, 'side' | 'qty'>): Order {
  sequence += 1;
  const intentId = `BTC/USDT:5m:${sequence}:fused:0`;
  return {
    kind: 'order',
    clientOrderId: clientOrderIdFor('ccxt-venue-test', intentId),
    intentId,
    signalId: `signal-${sequence}`,
    symbol: 'BTC/USDT',
    type: 'market',
    refPrice: 50_000,
    reducesRisk: false,
    configHash: 'test',
    tsEvent: Date.now(),
    ...partial,
  };
}

function of<K extends CcxtVenueOutput['kind']>(
  h: Harness,
  kind: K,
  clientOrderId?: string,
): Extract<CcxtVenueOutput, { kind: K }>[] {
  return h.events.filter(
    (e): e is Extract<CcxtVenueOutput, { kind: K }> =>
      e.kind === kind &&
      (clientOrderId === undefined || (e as { clientOrderId?: string | null }).clientOrderId === clientOrderId),
  );
}

function kindsFor(h: Harness, clientOrderId: string): string[] {
  return h.events.filter((e) => (e as { clientOrderId?: string }).clientOrderId === clientOrderId).map((e) => e.kind);
}

async function snapshot(h: Harness): Promise<VenueAccountSnapshot> {
  return eventually(() => {
    const [s] = of(h, 'venue-account');
    assert.ok(s, 'no account snapshot yet');
    return s;
  });
}

function json(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
}

/** Every event and error text must be free of the credentials. */
function assertNoSecrets(h: Harness): void {
  const texts = [
    json(h.events),
    ...h.errors.map((e) => (e instanceof Error ? `${e.name} ${e.message} ${e.stack ?? ''} ${json(e)}` : String(e))),
  ];
  for (const text of texts) {
    assert.ok(!text.includes(API_KEY), `API key leaked: ${text.slice(0, 300)}`);
    assert.ok(!text.includes(SECRET), `secret leaked: ${text.slice(0, 300)}`);
    assert.ok(!/signature=[0-9a-f]{16,}/i.test(text), `request signature leaked: ${text.slice(0, 300)}`);
  }
}

describe('ccxt live venue: real ccxt binance ↔ local Binance server with a simulated account', function () {
  this.timeout(20_000);

  afterEach(async () => {
    if (!harness) return;
    const h = harness;
    harness = undefined;
    h.subscription.unsubscribe();
    await h.server.close();
    assertNoSecrets(h);
  });

  it('reconciles balances, positions and open orders at start-up, and reports later fills of an order it found open', async () => {
    const h = await start({
      before: (account) => {
        account.placeDirect({
          symbol: 'BTCUSDT',
          side: 'BUY',
          type: 'LIMIT',
          timeInForce: 'GTC',
          quantity: '0.01000000',
          price: '48000.00',
          newClientOrderId: 'earlier-run-1',
        });
      },
    });
    const s = await snapshot(h);
    assert.equal(s.venue, 'binance');
    assert.deepEqual(s.balances['USDT'], { free: toUnits('9520'), used: toUnits('480'), total: toUnits('10000') });
    assert.deepEqual(s.balances['BTC'], { free: toUnits('0.5'), used: 0n, total: toUnits('0.5') });
    assert.equal(s.positions['BTC/USDT'], toUnits('0.5'));
    assert.equal(s.openOrders.length, 1);
    assert.equal(s.openOrders[0]!.clientOrderId, 'earlier-run-1');
    assert.equal(s.openOrders[0]!.qty, toUnits('0.01'));
    assert.equal(s.openOrders[0]!.price, 48_000);
    const instrument = s.instruments.find((i) => i.symbol === 'BTC/USDT')!;
    assert.equal(instrument.qtyStep, toUnits('0.00001'));
    assert.equal(instrument.priceTick, 0.01);
    assert.equal(instrument.minNotional, toUnits('5'));

    h.account.fill('earlier-run-1', '0.004');
    const [fill] = await eventually(() => {
      const fills = of(h, 'fill', 'earlier-run-1');
      assert.equal(fills.length, 1);
      return fills;
    });
    assert.equal(fill!.qty, toUnits('0.004'));
    assert.equal(fill!.leavesQty, toUnits('0.006'));
    assert.equal(fill!.price, toUnits('48000'));
  });

  it('an order accepted whose response is lost: OrderStatusUnknown, reconciliation finds it, no second order on the exchange', async () => {
    const h = await start();
    await snapshot(h);
    h.account.faultNext('POST', ORDER, { kind: 'lose' });
    const o = order({ side: 'buy', qty: toUnits('0.002') });
    h.input.next(o);
    await eventually(() =>
      assert.deepEqual(
        kindsFor(h, o.clientOrderId).filter((k) => k !== 'venue-notice'),
        ['order-unknown', 'order-accepted', 'fill'],
      ),
    );
    const [unknown] = of(h, 'order-unknown', o.clientOrderId);
    assert.match(unknown!.reason, /WatchdogTimeout/);
    const [fill] = of(h, 'fill', o.clientOrderId);
    assert.equal(fill!.qty, toUnits('0.002'));
    assert.equal(fill!.leavesQty, 0n);
    assert.equal(fill!.signalId, o.signalId);
    assert.ok(of(h, 'venue-notice', o.clientOrderId).some((n) => n.code === 'ORDER_FOUND'));
    assert.equal(h.account.ordersWithClientId(o.clientOrderId).length, 1);
    assert.equal(
      h.server.requests(ORDER).filter((r) => r.method === 'POST').length,
      1,
      'the order was never sent again',
    );
  });

  it('a connection dropped mid-answer is unknown too, and a duplicate submission of the same id is refused without reaching the exchange', async () => {
    const h = await start();
    await snapshot(h);
    h.account.faultNext('POST', ORDER, { kind: 'drop' });
    const o = order({ side: 'sell', qty: toUnits('0.01'), type: 'limit', limitPrice: 51_000 });
    h.input.next(o);
    await eventually(() =>
      assert.deepEqual(
        kindsFor(h, o.clientOrderId).filter((k) => k !== 'venue-notice'),
        ['order-unknown', 'order-accepted'],
      ),
    );
    h.input.next(o);
    await eventually(() =>
      assert.equal(of(h, 'order-rejected', o.clientOrderId)[0]?.code, 'DUPLICATE_CLIENT_ORDER_ID'),
    );
    assert.equal(h.account.ordersWithClientId(o.clientOrderId).length, 1);
    assert.equal(h.server.requests(ORDER).filter((r) => r.method === 'POST').length, 1);
  });

  it('a request executed late but within recvWindow: unknown, then found once it executed — still one order', async () => {
    const h = await start();
    await snapshot(h);
    // The exchange executes it ~700 ms after it arrived; the answer never completes.
    h.account.faultNext('POST', ORDER, { kind: 'late', ms: 700 });
    const o = order({ side: 'buy', qty: toUnits('0.001') });
    h.input.next(o);
    await eventually(() => assert.equal(of(h, 'fill', o.clientOrderId).length, 1), { timeoutMs: 5_000 });
    assert.deepEqual(
      kindsFor(h, o.clientOrderId).filter((k) => k !== 'venue-notice'),
      ['order-unknown', 'order-accepted', 'fill'],
    );
    assert.equal(of(h, 'venue-notice', o.clientOrderId).filter((n) => n.code === 'ORDER_RESENT').length, 0);
    assert.deepEqual(
      h.account.lateRequests().map((r) => r.executed),
      [true],
    );
    assert.equal(h.account.ordersWithClientId(o.clientOrderId).length, 1);
    assert.equal(h.server.requests(ORDER).filter((r) => r.method === 'POST').length, 1);
  });

  it('a request that never executes: resent only after the exchange confirms, past recvWindow, that the order does not exist', async () => {
    const h = await start();
    await snapshot(h);
    // Executed 2.5 s late, past its recvWindow (1000 ms): the exchange refuses it then (-1021).
    h.account.faultNext('POST', ORDER, { kind: 'late', ms: 2_500 });
    const o = order({ side: 'buy', qty: toUnits('0.001') });
    const sentAt = Date.now();
    h.input.next(o);
    await eventually(() => assert.equal(of(h, 'fill', o.clientOrderId).length, 1), { timeoutMs: 8_000 });
    const resent = of(h, 'venue-notice', o.clientOrderId).find((n) => n.code === 'ORDER_RESENT');
    assert.ok(resent, 'a resend notice');
    assert.ok(
      resent.tsEvent - sentAt >= 1_000 + 100,
      `resent ${resent.tsEvent - sentAt} ms after sending: before recvWindow + margin`,
    );
    await eventually(
      () =>
        assert.deepEqual(
          h.account.lateRequests().map((r) => r.executed),
          [false],
        ),
      { timeoutMs: 5_000 },
    );
    assert.equal(h.server.requests(ORDER).filter((r) => r.method === 'POST').length, 2);
    assert.equal(
      h.account.ordersWithClientId(o.clientOrderId).length,
      1,
      'the late original was refused, the resend placed exactly one order',
    );
  });

  it('429 then 418: backs off, sends nothing during the ban (polls included), then places the order once', async () => {
    const h = await start();
    await snapshot(h);
    // A resting order keeps the poller busy, so the pause must stop polls too.
    const resting = order({ side: 'buy', qty: toUnits('0.001'), type: 'limit', limitPrice: 40_000 });
    h.input.next(resting);
    await eventually(() => assert.equal(of(h, 'order-accepted', resting.clientOrderId).length, 1));
    h.account.faultNext(
      'POST',
      ORDER,
      { kind: 'status', status: 429, retryAfterSec: 1 },
      { kind: 'status', status: 418, retryAfterSec: 2 },
    );
    const o = order({ side: 'buy', qty: toUnits('0.001') });
    h.input.next(o);
    await eventually(() => assert.equal(of(h, 'fill', o.clientOrderId).length, 1), { timeoutMs: 10_000 });
    const throttles = of(h, 'venue-throttled');
    assert.deepEqual(
      throttles.map((t) => t.status),
      [429, 418],
    );
    assert.equal(throttles[0]!.retryAfterMs, 1_000);
    // Binance's 418 names the end of the ban ("banned until <ms>"): the wait runs to it.
    assert.ok(
      throttles[1]!.retryAfterMs > 1_900 && throttles[1]!.retryAfterMs <= 2_000,
      `418 wait ${throttles[1]!.retryAfterMs} ms`,
    );
    assert.ok(of(h, 'venue-resumed').length >= 1);
    assert.deepEqual(h.account.violations(), [], 'no request while told to wait');
    const posts = h.server.requests(ORDER).filter((r) => r.method === 'POST' && r.query['symbol'] === undefined);
    const orderPosts = posts.slice(-3);
    assert.equal(orderPosts.length, 3);
    const banStart = orderPosts[1]!.receivedAt;
    assert.ok(orderPosts[1]!.receivedAt - orderPosts[0]!.receivedAt >= 1_000, '429 Retry-After honoured');
    assert.ok(orderPosts[2]!.receivedAt - banStart >= 2_000, '418 Retry-After honoured');
    // Requests already on their way when the 418 was sent (≤ 50 ms) cannot be helped; nothing after.
    const duringBan = h.server
      .requests()
      .filter((r) => r.receivedAt > banStart + 50 && r.receivedAt < banStart + 2_000);
    assert.deepEqual(
      duringBan.map((r) => `${r.method} ${r.path}`),
      [],
    );
    assert.equal(h.account.ordersWithClientId(o.clientOrderId).length, 1);
    assert.ok(
      !kindsFor(h, o.clientOrderId).includes('order-unknown'),
      'a 429/418 is a refusal, not an unknown outcome',
    );
  });

  it('503 -1008 "Server is currently overloaded" on an order: not executed, so resent with the same client id after a backoff — one order, no rejection', async () => {
    const h = await start();
    await snapshot(h);
    h.account.faultNext('POST', ORDER, { kind: 'status', status: 503, code: -1008 }, { kind: 'status', status: 503 });
    const o = order({ side: 'buy', qty: toUnits('0.001') });
    h.input.next(o);
    await eventually(() => assert.equal(of(h, 'fill', o.clientOrderId).length, 1), { timeoutMs: 8_000 });
    assert.deepEqual(of(h, 'order-rejected', o.clientOrderId), []);
    assert.ok(!kindsFor(h, o.clientOrderId).includes('order-unknown'), 'an overload answer is a refusal, not unknown');
    const posts = h.server.requests(ORDER).filter((r) => r.method === 'POST');
    assert.equal(posts.length, 3);
    assert.ok(posts[1]!.receivedAt - posts[0]!.receivedAt >= 40, 'backed off before the resend');
    // The one order the exchange holds carries the original client order id: the resend reused it.
    assert.equal(h.account.ordersWithClientId(o.clientOrderId).length, 1);
    assert.equal(h.account.orders().length, 1);
  });

  it('503 -1008 on the reads: start-up and polling wait and read again, nothing fails', async () => {
    const h = await start({
      before: (account) => {
        account.faultNext('GET', '/api/v3/account', { kind: 'status', status: 503 }, { kind: 'status', status: 503 });
        account.faultNext('GET', '/api/v3/openOrders', { kind: 'status', status: 503 });
      },
    });
    await eventually(() => assert.ok(h.events.length + h.errors.length > 0), { timeoutMs: 8_000 });
    assert.deepEqual(h.errors.map(String), [], 'start-up survived the overload');
    await snapshot(h);
    const resting = order({ side: 'buy', qty: toUnits('0.001'), type: 'limit', limitPrice: 40_000 });
    h.input.next(resting);
    await eventually(() => assert.equal(of(h, 'order-accepted', resting.clientOrderId).length, 1));
    h.account.faultNext('GET', '/api/v3/openOrders', { kind: 'status', status: 503 }, { kind: 'status', status: 503 });
    h.account.setPrice('BTCUSDT', '39000');
    await eventually(() => assert.equal(of(h, 'fill', resting.clientOrderId).length, 1), { timeoutMs: 8_000 });
    assert.deepEqual(h.errors, []);
  });

  it('our orders/second cap spreads a burst, and a full queue rejects with RATE_LIMITED instead of growing', async () => {
    // ccxt's own limiter off here, so what the server sees is our cap alone.
    const h = await start({ config: { maxOrdersPerSecond: 5, maxQueuedOrders: 3, enableRateLimit: false } });
    await snapshot(h);
    const burst = Array.from({ length: 10 }, () => order({ side: 'buy', qty: toUnits('0.001') }));
    for (const o of burst) h.input.next(o);
    await eventually(() => assert.equal(of(h, 'fill').length, 8), { timeoutMs: 5_000 });
    const rejected = of(h, 'order-rejected');
    assert.deepEqual(
      rejected.map((r) => [r.clientOrderId, r.code]),
      [
        [burst[8]!.clientOrderId, 'RATE_LIMITED'],
        [burst[9]!.clientOrderId, 'RATE_LIMITED'],
      ],
    );
    const times = h.server
      .requests(ORDER)
      .filter((r) => r.method === 'POST')
      .map((r) => r.receivedAt);
    assert.equal(times.length, 8);
    // The token bucket: a burst of 5 (one second's worth), then 5 per second. Whatever the machine's
    // load delays, no window holds more than 5 + 5/s × its length (+1 for the clock's granularity).
    for (let i = 0; i < times.length; i++)
      for (let j = i + 1; j < times.length; j++) {
        const allowed = 5 + ((times[j]! - times[i]!) * 5) / 1000 + 1;
        assert.ok(j - i + 1 <= allowed, `orders ${i}..${j}: ${j - i + 1} within ${times[j]! - times[i]!} ms`);
      }
    assert.ok(times[7]! - times[0]! >= 400, `8 orders in ${times[7]! - times[0]!} ms: the cap did not spread them`);
  });

  it('partial fills: one Fill per trade with the right leavesQty, nothing reported twice', async () => {
    const h = await start();
    await snapshot(h);
    const o = order({ side: 'buy', qty: toUnits('0.003'), type: 'limit', limitPrice: 49_000 });
    h.input.next(o);
    await eventually(() => assert.equal(of(h, 'order-accepted', o.clientOrderId).length, 1));
    h.account.fill(o.clientOrderId, '0.001');
    await eventually(() => assert.equal(of(h, 'fill', o.clientOrderId).length, 1));
    h.account.fill(o.clientOrderId, '0.0015');
    h.account.fill(o.clientOrderId, '0.0005', '48990');
    await eventually(() => assert.equal(of(h, 'fill', o.clientOrderId).length, 3));
    await consistently(() => assert.equal(of(h, 'fill', o.clientOrderId).length, 3), { durationMs: 200 });
    const fills = of(h, 'fill', o.clientOrderId);
    assert.deepEqual(
      fills.map((f) => [f.qty, f.leavesQty, f.price, f.liquidity]),
      [
        [toUnits('0.001'), toUnits('0.002'), toUnits('49000'), 'maker'],
        [toUnits('0.0015'), toUnits('0.0005'), toUnits('49000'), 'maker'],
        [toUnits('0.0005'), 0n, toUnits('48990'), 'maker'],
      ],
    );
    // Commission is charged in BTC on buys (0.1 %): 0.000001 BTC × 49000 = 0.049 USDT.
    assert.equal(fills[0]!.fee, toUnits('0.049'));
    assert.equal(fills[0]!.notional, toUnits('49'));
  });

  it('insufficient balance: a clear rejection with the exchange message, and the next valid order still goes through', async () => {
    const h = await start();
    await snapshot(h);
    const tooBig = order({ side: 'buy', qty: toUnits('1') });
    const fine = order({ side: 'buy', qty: toUnits('0.001') });
    h.input.next(tooBig);
    h.input.next(fine);
    await eventually(() => assert.equal(of(h, 'fill', fine.clientOrderId).length, 1));
    const [rejected] = of(h, 'order-rejected', tooBig.clientOrderId);
    assert.ok(rejected);
    assert.equal(rejected.code, 'INSUFFICIENT_BALANCE');
    assert.match(
      rejected.message,
      /^InsufficientFunds: binance Account has insufficient balance for requested action\.$/,
    );
    assert.equal(rejected.signalId, tooBig.signalId);
    assert.deepEqual(kindsFor(h, tooBig.clientOrderId), ['order-rejected']);
  });

  it('filter failures come back as rejections with the exchange message (min notional, lot size checked locally)', async () => {
    const h = await start();
    await snapshot(h);
    const dust = order({ side: 'buy', qty: toUnits('0.00005'), type: 'limit', limitPrice: 50_000 });
    const offStep = order({ side: 'buy', qty: toUnits('0.000015') });
    h.input.next(dust);
    h.input.next(offStep);
    await eventually(() => assert.equal(of(h, 'order-rejected').length, 2));
    assert.equal(of(h, 'order-rejected', dust.clientOrderId)[0]!.code, 'BELOW_MIN_NOTIONAL');
    assert.equal(of(h, 'order-rejected', dust.clientOrderId)[0]!.message, 'binance -1013: Filter failure: NOTIONAL');
    assert.equal(of(h, 'order-rejected', offStep.clientOrderId)[0]!.code, 'QTY_PRECISION');
  });

  it('a reduce-only exit off the lot grid goes out rounded down to it (the rest stays as dust); a risk-adding one is still refused', async () => {
    const h = await start({ account: { balances: { USDT: '10000', BTC: '0.04964031' } } });
    await snapshot(h);
    const exit = order({ side: 'sell', qty: toUnits('0.04964031'), reducesRisk: true });
    h.input.next(exit);
    await eventually(() => assert.equal(of(h, 'fill', exit.clientOrderId).length, 1));
    const [filled] = of(h, 'fill', exit.clientOrderId);
    assert.equal(filled!.qty, toUnits('0.04964'));
    assert.equal(filled!.leavesQty, 0n);
    assert.equal(of(h, 'venue-notice').filter((n) => n.code === 'QTY_ROUNDED').length, 1);
    assert.equal(h.account.balance('BTC').free, '0.00000031');
    const add = order({ side: 'buy', qty: toUnits('0.00100031') });
    h.input.next(add);
    await eventually(() => assert.equal(of(h, 'order-rejected', add.clientOrderId)[0]?.code, 'QTY_PRECISION'));
  });

  it('cancel and cancel-all: resting orders are canceled on the exchange and reported with the reason', async () => {
    const h = await start({ config: { symbols: ['BTC/USDT', 'ETH/USDT'] } });
    await snapshot(h);
    const a = order({ side: 'buy', qty: toUnits('0.001'), type: 'limit', limitPrice: 40_000 });
    const b = order({ side: 'buy', qty: toUnits('0.001'), type: 'limit', limitPrice: 41_000 });
    const c = order({ side: 'buy', qty: toUnits('0.01'), type: 'limit', limitPrice: 2_000, symbol: 'ETH/USDT' });
    for (const o of [a, b, c]) h.input.next(o);
    await eventually(() => assert.equal(of(h, 'order-accepted').length, 3));
    h.input.next({
      kind: 'cancel',
      clientOrderId: a.clientOrderId,
      symbol: 'BTC/USDT',
      reason: 'signal reversed',
      tsEvent: Date.now(),
    });
    await eventually(() => assert.equal(of(h, 'order-canceled', a.clientOrderId)[0]?.reason, 'signal reversed'));
    assert.equal(h.account.ordersWithClientId(a.clientOrderId)[0]!.status, 'CANCELED');
    h.input.next({ kind: 'cancel-all', reason: 'mode: Emergency', tsEvent: Date.now() });
    await eventually(() => assert.equal(of(h, 'order-canceled').length, 3));
    assert.equal(of(h, 'order-canceled', b.clientOrderId)[0]!.reason, 'mode: Emergency');
    assert.equal(of(h, 'order-canceled', c.clientOrderId)[0]!.reason, 'mode: Emergency');
    assert.deepEqual(
      h.account.orders().filter((o) => o.status === 'NEW'),
      [],
    );
    assert.equal(h.account.balance('USDT').locked, '0');
    // Canceling what is already closed is reported, not thrown.
    h.input.next({
      kind: 'cancel',
      clientOrderId: a.clientOrderId,
      symbol: 'BTC/USDT',
      reason: 'again',
      tsEvent: Date.now(),
    });
    await eventually(() => assert.equal(of(h, 'cancel-rejected', a.clientOrderId).length, 1));
  });

  it('a stop-loss and a trailing stop reach the exchange as native STOP_LOSS orders and fill when triggered', async () => {
    const h = await start();
    await snapshot(h);
    const stop = order({
      side: 'sell',
      qty: toUnits('0.01'),
      type: 'stop-market',
      stopPrice: 45_000,
      reducesRisk: true,
    });
    const trailing = order({
      side: 'sell',
      qty: toUnits('0.01'),
      type: 'trailing-stop',
      trailingBps: 200,
      reducesRisk: true,
    });
    h.input.next(stop);
    h.input.next(trailing);
    await eventually(() => assert.equal(of(h, 'order-accepted').length, 2));
    const [native] = h.account.ordersWithClientId(stop.clientOrderId);
    assert.equal(native!.type, 'STOP_LOSS');
    assert.equal(native!.stopPrice, toUnits('45000'));
    const [nativeTrailing] = h.account.ordersWithClientId(trailing.clientOrderId);
    assert.equal(nativeTrailing!.type, 'STOP_LOSS');
    assert.equal(nativeTrailing!.trailingDelta, 200);
    assert.equal(of(h, 'venue-notice').filter((n) => n.code === 'EMULATED').length, 0);
    h.account.setPrice('BTCUSDT', '52000'); // the trailing stop follows up to 52000 → triggers at 50960
    h.account.setPrice('BTCUSDT', '50900');
    await eventually(() => assert.equal(of(h, 'fill', trailing.clientOrderId).length, 1));
    assert.equal(of(h, 'fill', stop.clientOrderId).length, 0);
    h.account.setPrice('BTCUSDT', '44900');
    await eventually(() => assert.equal(of(h, 'fill', stop.clientOrderId).length, 1));
    assert.equal(of(h, 'fill', stop.clientOrderId)[0]!.price, toUnits('44900'));
  });

  it('an OCO pair reaches the exchange as one native order list; the take-profit fills and the stop expires', async () => {
    const h = await start();
    await snapshot(h);
    const takeProfit = order({
      side: 'sell',
      qty: toUnits('0.02'),
      type: 'limit',
      limitPrice: 55_000,
      ocoGroup: 'exit-1',
      reducesRisk: true,
    });
    const stop = order({
      side: 'sell',
      qty: toUnits('0.02'),
      type: 'stop-limit',
      stopPrice: 45_000,
      limitPrice: 44_900,
      ocoGroup: 'exit-1',
      reducesRisk: true,
    });
    h.input.next(takeProfit);
    h.input.next(stop);
    await eventually(() => assert.equal(of(h, 'order-accepted').length, 2));
    const lists = h.server.requests('/api/v3/orderList/oco');
    assert.equal(lists.length, 1);
    assert.equal(h.server.requests(ORDER).filter((r) => r.method === 'POST').length, 0, 'no separate orders');
    const [tp] = h.account.ordersWithClientId(takeProfit.clientOrderId);
    const [sl] = h.account.ordersWithClientId(stop.clientOrderId);
    assert.equal(tp!.type, 'LIMIT_MAKER');
    assert.equal(sl!.type, 'STOP_LOSS_LIMIT');
    assert.equal(tp!.orderListId, sl!.orderListId);
    assert.ok(tp!.orderListId > 0);
    assert.equal(h.account.balance('BTC').locked, '0.02', 'one reservation for the list');
    h.account.setPrice('BTCUSDT', '55000');
    await eventually(() => {
      assert.equal(of(h, 'fill', takeProfit.clientOrderId).length, 1);
      assert.equal(of(h, 'order-canceled', stop.clientOrderId)[0]?.reason, 'oco: the other order of the list executed');
    });
    assert.equal(h.account.balance('BTC').locked, '0');
  });

  it('emulated stop (forced here; the path for exchanges without native stops): held by the venue, sent as a market order when a trade crosses', async () => {
    const h = await start({ config: { emulate: ['stop'] } });
    await snapshot(h);
    const stop = order({
      side: 'sell',
      qty: toUnits('0.01'),
      type: 'stop-market',
      stopPrice: 45_000,
      reducesRisk: true,
    });
    h.input.next(stop);
    await eventually(() => assert.equal(of(h, 'order-accepted', stop.clientOrderId).length, 1));
    assert.ok(of(h, 'venue-notice', stop.clientOrderId).some((n) => n.code === 'EMULATED'));
    const trade = (price: number): TradeTick => ({
      kind: 'trade',
      venue: 'binance',
      symbol: 'BTC/USDT',
      price,
      qty: 0.1,
      side: 'sell',
      tradeId: String(price),
      tsEvent: Date.now(),
      tsInit: Date.now(),
    });
    h.input.next(trade(46_000));
    await consistently(() => assert.equal(h.server.requests(ORDER).filter((r) => r.method === 'POST').length, 0), {
      durationMs: 100,
    });
    h.account.setPrice('BTCUSDT', '44950');
    h.input.next(trade(44_950));
    await eventually(() => assert.equal(of(h, 'fill', stop.clientOrderId).length, 1));
    const [sent] = h.account.ordersWithClientId(stop.clientOrderId);
    assert.equal(sent!.type, 'MARKET');
    // Market data passes through, after the orders it triggered.
    assert.equal(of(h, 'trade').length, 2);
  });

  it('emulated OCO (the path for exchanges without order lists): the first leg to trigger is sent, the other is canceled', async () => {
    const h = await start({ config: { emulate: ['oco'] } });
    await snapshot(h);
    const takeProfit = order({
      side: 'sell',
      qty: toUnits('0.02'),
      type: 'limit',
      limitPrice: 55_000,
      ocoGroup: 'exit-2',
      reducesRisk: true,
    });
    const stop = order({
      side: 'sell',
      qty: toUnits('0.02'),
      type: 'stop-market',
      stopPrice: 45_000,
      ocoGroup: 'exit-2',
      reducesRisk: true,
    });
    h.input.next(takeProfit);
    h.input.next(stop);
    await eventually(() => assert.equal(of(h, 'order-accepted').length, 2));
    assert.equal(h.server.requests().filter((r) => r.method === 'POST').length, 0, 'both legs held by the venue');
    h.account.setPrice('BTCUSDT', '55100');
    h.input.next({
      kind: 'trade',
      venue: 'binance',
      symbol: 'BTC/USDT',
      price: 55_100,
      qty: 0.2,
      side: 'buy',
      tradeId: 't1',
      tsEvent: Date.now(),
      tsInit: Date.now(),
    });
    await eventually(() => assert.equal(of(h, 'fill', takeProfit.clientOrderId).length, 1));
    assert.equal(of(h, 'order-canceled', stop.clientOrderId)[0]!.reason, `oco: ${takeProfit.clientOrderId} triggered`);
    const [sent] = h.account.ordersWithClientId(takeProfit.clientOrderId);
    assert.equal(sent!.type, 'LIMIT');
    assert.equal(h.account.ordersWithClientId(stop.clientOrderId).length, 0);
  });

  it('an order replayed from before the start is looked up first and continued, not placed twice', async () => {
    const h = await start({
      before: (account) => {
        account.placeDirect({
          symbol: 'BTCUSDT',
          side: 'BUY',
          type: 'MARKET',
          quantity: '0.00100000',
          newClientOrderId: clientOrderIdFor('ccxt-venue-test', 'replayed'),
        });
      },
    });
    await snapshot(h);
    const replayed: Order = {
      ...order({ side: 'buy', qty: toUnits('0.001') }),
      clientOrderId: clientOrderIdFor('ccxt-venue-test', 'replayed'),
      tsEvent: Date.now() - 60_000,
    };
    h.input.next(replayed);
    await eventually(() =>
      assert.deepEqual(
        kindsFor(h, replayed.clientOrderId).filter((k) => k !== 'venue-notice'),
        ['order-accepted', 'fill'],
      ),
    );
    assert.equal(h.account.ordersWithClientId(replayed.clientOrderId).length, 1);
    assert.equal(h.server.requests(ORDER).filter((r) => r.method === 'POST').length, 0);
  });

  it('an order accepted and executed late, after its session ended (a restart): the next session adopts the trade by reconciliation, and the replayed order is neither placed again nor reported twice', async () => {
    const h = await start({ config: { recvWindowMs: 5_000 } });
    await snapshot(h);
    // Accepted by the gateway now, executed 2.5 s later (inside recvWindow); the answer is lost.
    h.account.faultNext('POST', ORDER, { kind: 'late', ms: 2_500 });
    const o = order({ side: 'buy', qty: toUnits('0.001') });
    h.input.next(o);
    await eventually(() => assert.equal(h.server.requests(ORDER).filter((r) => r.method === 'POST').length, 1));
    // The session ends before the exchange executes the order.
    h.subscription.unsubscribe();

    const events: CcxtVenueOutput[] = [];
    const errors: unknown[] = [];
    const input = new Subject<CcxtVenueInput>();
    const next = input
      .pipe(
        makeCcxtVenue({
          exchange: 'binance',
          apiKey: API_KEY,
          secret: SECRET,
          symbols: ['BTC/USDT'],
          apiUrl: h.server.url,
          ccxtOptions: { fetchCurrencies: false },
          timeoutMs: 400,
          watchdogGraceMs: 200,
          recvWindowMs: 5_000,
          clockMarginMs: 100,
          pollIntervalMs: 40,
          retry: { initialDelayMs: 40 },
          reconcile: { everyMs: 100 },
        }),
      )
      .subscribe({ next: (e) => events.push(e), error: (e: unknown) => errors.push(e) });
    try {
      const started = await eventually(() => {
        const s = events.find((e): e is VenueAccountSnapshot => e.kind === 'venue-account');
        assert.ok(s);
        return s;
      });
      assert.equal(started.positions['BTC/USDT'], toUnits('0.5'), 'the late order had not executed at the restart');
      await eventually(
        () =>
          assert.deepEqual(
            h.account.lateRequests().map((r) => r.executed),
            [true],
          ),
        {
          timeoutMs: 6_000,
        },
      );
      const fillsOf = () => events.filter((e) => e.kind === 'fill' && e.clientOrderId === o.clientOrderId);
      await eventually(() => assert.equal(fillsOf().length, 1), { timeoutMs: 5_000 });
      const adopted = events.filter((e) => e.kind === 'venue-notice' && e.code === 'TRADE_ADOPTED');
      assert.equal(adopted.length, 1);
      assert.match((adopted[0] as { message: string }).message, new RegExp(o.clientOrderId));
      const pass = await eventually(() => {
        const found = events.find((e) => e.kind === 'venue-reconciled' && e.differences > 0);
        assert.ok(found, 'a reconciliation pass reported the difference');
        return found;
      });
      assert.deepEqual(pass.kind === 'venue-reconciled' && [pass.adoptedTrades, pass.drifts], [1, 0]);
      const fill = fillsOf()[0]!;
      assert.ok(fill.kind === 'fill');
      assert.equal(fill.qty, toUnits('0.001'));
      assert.equal(fill.side, 'buy');

      // The restarted pipeline replays the order (same id, from before the start).
      input.next({ ...o, tsEvent: Date.now() - 10_000 });
      await eventually(() =>
        assert.ok(events.some((e) => e.kind === 'order-accepted' && e.clientOrderId === o.clientOrderId)),
      );
      await consistently(() => assert.equal(fillsOf().length, 1), { durationMs: 400 });
      assert.equal(h.account.ordersWithClientId(o.clientOrderId).length, 1, 'one order on the exchange');
      assert.equal(h.server.requests(ORDER).filter((r) => r.method === 'POST').length, 1, 'never sent again');
      // Later passes find nothing more to adopt.
      await consistently(
        () => assert.equal(events.filter((e) => e.kind === 'venue-notice' && e.code === 'TRADE_ADOPTED').length, 1),
        { durationMs: 300 },
      );
      assert.deepEqual(errors, []);
    } finally {
      next.unsubscribe();
    }
  });

  it("a restart recovers, as fills with fee and signal, what the earlier session's unsettled orders executed while no session watched", async () => {
    const sentAt = Date.now() - 1_000;
    const h = await start({
      config: {
        recoverOrders: [
          // The journal saw the first 0.004 of this one; the exchange filled the other 0.006 since.
          {
            clientOrderId: 'earlier-limit',
            signalId: 'sig-limit',
            symbol: 'BTC/USDT',
            side: 'buy',
            filled: toUnits('0.004'),
            sentAt,
          },
          // The answer never reached the journal: it executed in full.
          {
            clientOrderId: 'earlier-market',
            signalId: 'sig-market',
            symbol: 'BTC/USDT',
            side: 'sell',
            filled: 0n,
            sentAt,
          },
          // Sent, never placed (the process died before the request left).
          { clientOrderId: 'earlier-lost', signalId: 'sig-lost', symbol: 'BTC/USDT', side: 'buy', filled: 0n, sentAt },
        ],
      },
      before: (account) => {
        account.placeDirect({
          symbol: 'BTCUSDT',
          side: 'BUY',
          type: 'LIMIT',
          timeInForce: 'GTC',
          quantity: '0.01000000',
          price: '48000.00',
          newClientOrderId: 'earlier-limit',
        });
        account.fill('earlier-limit', '0.004');
        account.fill('earlier-limit', '0.006');
        account.placeDirect({
          symbol: 'BTCUSDT',
          side: 'SELL',
          type: 'MARKET',
          quantity: '0.00200000',
          newClientOrderId: 'earlier-market',
        });
      },
    });
    const s = await snapshot(h);
    assert.deepEqual(
      s.recoveredFills.map((f) => [f.clientOrderId, f.signalId, f.side, f.qty, f.price, f.fee, f.feeBase, f.leavesQty]),
      [
        // A buy's commission is taken in BTC (0.1 % of 0.006), worth 0.288 USDT at 48,000.
        [
          'earlier-limit',
          'sig-limit',
          'buy',
          toUnits('0.006'),
          toUnits('48000'),
          toUnits('0.288'),
          toUnits('0.000006'),
          0n,
        ],
        // A sell's commission is taken in USDT (0.1 % of 100).
        ['earlier-market', 'sig-market', 'sell', toUnits('0.002'), toUnits('50000'), toUnits('0.1'), undefined, 0n],
      ],
    );
    const notes = of(h, 'venue-notice')
      .filter((n) => n.code === 'FILL_RECOVERED')
      .map((n) => n.message);
    assert.equal(notes.length, 3);
    assert.match(notes.find((m) => m.includes('earlier-lost'))!, /not on the exchange \(never placed\)/);
    assert.match(
      notes.find((m) => m.includes('earlier-limit'))!,
      /0\.006 bought while no session watched; recovered as fills/,
    );
    // The balances already hold them: no reconciliation pass adopts them again.
    await consistently(() => assert.equal(of(h, 'venue-notice').filter((n) => n.code === 'TRADE_ADOPTED').length, 0), {
      durationMs: 300,
    });
  });

  it('a position holding Binance fee dust is flattened on the lot grid by the emergency actions, and the dust left is reported', async () => {
    const h = await start({
      account: { balances: { USDT: '10000' } },
      config: { reconcile: { everyMs: 100 } },
    });
    const s = await snapshot(h);
    const buy = order({ side: 'buy', qty: toUnits('0.04969') });
    h.input.next(buy);
    await eventually(() => assert.equal(of(h, 'fill', buy.clientOrderId).length, 1));
    const [bought] = of(h, 'fill', buy.clientOrderId);
    // Binance takes the buy's fee in BTC: 0.04969 − 0.00004969 = 0.04964031, off the 0.00001 grid.
    assert.equal(bought!.feeBase, toUnits('0.00004969'));
    assert.equal(h.account.balance('BTC').free, '0.04964031');
    let portfolio = cashPortfolio('10000');
    portfolio = applyFill(portfolio, bought!);
    assert.equal(portfolio.positions['BTC/USDT']!.qty, toUnits('0.04964031'));

    // The kill switch: Emergency flattens what the portfolio holds.
    const commands: EmergencyCommand[] = [];
    of$<EmergencyInput[]>(portfolio, {
      kind: 'mode-changed',
      from: 'Normal',
      to: 'Emergency',
      reason: 'kill switch pressed',
      tsEvent: 1,
    })
      .pipe(flattenOnEmergency({ strategyId: 'ccxt-venue-test', configHash: 'test', instruments: s.instruments }))
      .subscribe((c) => commands.push(c));
    const flatten = commands.find((c): c is Order => c.kind === 'order');
    assert.ok(flatten);
    assert.equal(flatten.qty, toUnits('0.04964'));
    h.input.next({ ...flatten, tsEvent: Date.now() });
    await eventually(() => assert.equal(of(h, 'fill', flatten.clientOrderId).length, 1));
    assert.deepEqual(of(h, 'order-rejected'), []);
    assert.equal(h.account.balance('BTC').free, '0.00000031');
    await eventually(() => {
      const dust = of(h, 'venue-notice').filter((n) => n.code === 'DUST');
      assert.equal(dust.length, 1);
      assert.match(dust[0]!.message, /^BTC\/USDT: 0\.00000031 BTC is dust/);
    });
    // Dust is not a difference: the passes stay clean.
    assert.deepEqual(
      of(h, 'venue-notice').filter((n) => n.code === 'BALANCE_DRIFT' || n.code === 'TRADE_ADOPTED'),
      [],
    );
  });

  it('keys never leak: a wrong secret fails start-up with AUTHENTICATION_FAILED and no credential in the error', async () => {
    const server = await startBinanceServer();
    mountBinanceOrders(server, { apiKey: API_KEY, secret: SECRET, balances: { USDT: '1' } });
    const wrongSecret = `${SECRET.slice(0, -4)}XXXX`;
    const errors: unknown[] = [];
    const events: CcxtVenueOutput[] = [];
    const subscription = new Subject<CcxtVenueInput>()
      .pipe(
        makeCcxtVenue({
          exchange: 'binance',
          apiKey: API_KEY,
          secret: wrongSecret,
          symbols: ['BTC/USDT'],
          apiUrl: server.url,
          ccxtOptions: { fetchCurrencies: false },
          retry: { maxRetries: 0 },
        }),
      )
      .subscribe({ next: (e) => events.push(e), error: (e: unknown) => errors.push(e) });
    try {
      await eventually(() => assert.equal(errors.length, 1));
      const error = errors[0];
      assert.ok(error instanceof CcxtVenueError);
      assert.equal(error.code, 'AUTHENTICATION_FAILED');
      assert.match(
        error.message,
        /-1022: Signature for this request is not valid\.|Signature for this request is not valid/,
      );
      for (const text of [error.message, error.stack ?? '', json(events)]) {
        assert.ok(!text.includes(API_KEY) && !text.includes(wrongSecret) && !text.includes(SECRET));
        assert.ok(!/signature=[0-9a-f]{16,}/i.test(text));
      }
      // A broken config names the key but never prints a credential's value.
      assert.throws(
        () =>
          parseCcxtVenueConfig({
            exchange: 'binance',
            apiKey: API_KEY,
            secret: 42 as unknown as string,
            symbols: ['BTC/USDT'],
          }),
        (e: unknown) =>
          e instanceof CcxtVenueError &&
          /secret: expected string, found \(a value, not shown\)/.test(e.message) &&
          !e.message.includes(API_KEY),
      );
    } finally {
      subscription.unsubscribe();
      await server.close();
    }
  });

  it('keys never leak: after rejections, rate limits, lost answers and cancels, no event carries a credential or signature', async () => {
    const h = await start();
    await snapshot(h);
    h.account.faultNext('POST', ORDER, { kind: 'status', status: 429, retryAfterSec: 1 });
    h.account.faultNext('GET', ORDER, { kind: 'status', status: 500 });
    h.account.faultNext('POST', ORDER, { kind: 'lose' });
    const orders = [
      order({ side: 'buy', qty: toUnits('5') }),
      order({ side: 'buy', qty: toUnits('0.001') }),
      order({ side: 'sell', qty: toUnits('0.001'), type: 'limit', limitPrice: 60_000 }),
    ];
    for (const o of orders) h.input.next(o);
    await eventually(() => assert.equal(of(h, 'order-accepted').length + of(h, 'order-rejected').length, 3), {
      timeoutMs: 10_000,
    });
    h.input.next({ kind: 'cancel-all', reason: 'done', tsEvent: Date.now() });
    await eventually(() => assert.equal(of(h, 'order-canceled').length, 1));
    assert.ok(of(h, 'venue-throttled').length >= 1);
    assert.ok(h.events.some((e) => e.kind === 'order-unknown' || e.kind === 'order-rejected'));
    assertNoSecrets(h);
  });

  it('completes when the input completes and nothing is in flight; teardown destroys the keep-alive dispatcher', async () => {
    const h = await start();
    await snapshot(h);
    const o = order({ side: 'buy', qty: toUnits('0.001') });
    h.input.next(o);
    h.input.complete();
    await eventually(() => assert.ok(h.completed));
    assert.equal(of(h, 'fill', o.clientOrderId).length, 1, 'the order in flight was finished first');
    const exchange = h.exchanges[0]!;
    const dispatcher = exchange.fetchDispatcher as { destroyed?: boolean } | undefined;
    assert.ok(dispatcher, 'ccxt created a keep-alive dispatcher');
    await eventually(() => assert.equal(dispatcher.destroyed, true));
  });
});
