/**
 * A simulated Binance spot account and matching engine behind the signed REST endpoints, mounted on a
 * {@link BinanceServer} through its `route()` hook — so the real ccxt code trades against it over HTTP
 * exactly as against api.binance.com.
 *
 * Served (Binance spot API, 2024 semantics):
 * - `POST /api/v3/order` (MARKET, LIMIT, LIMIT_MAKER, STOP_LOSS, STOP_LOSS_LIMIT, TAKE_PROFIT,
 *   TAKE_PROFIT_LIMIT, `trailingDelta`; `newOrderRespType` ACK/RESULT/FULL),
 *   `GET /api/v3/order`, `DELETE /api/v3/order` (by `orderId` or `origClientOrderId`),
 * - `GET /api/v3/openOrders`, `DELETE /api/v3/openOrders`,
 * - `POST /api/v3/orderList/oco` (the current OCO endpoint; ccxt 4.5.84 has no unified OCO method, its
 *   implicit `privatePostOrderListOco` calls this), `DELETE /api/v3/orderList`,
 * - `GET /api/v3/account`, `GET /api/v3/myTrades`.
 *
 * Checked like Binance does: `X-MBX-APIKEY` (-2014/-2015), HMAC-SHA256 `signature` over the query
 * string and body (-1022), `timestamp` within `recvWindow` (-1021), mandatory parameters (-1102),
 * filters PRICE_FILTER / LOT_SIZE / NOTIONAL / TRAILING_DELTA (-1013 "Filter failure: …"),
 * `newClientOrderId` unique among open orders (-2010 "Duplicate order sent."), free balance
 * (-2010 "Account has insufficient balance for requested action."), stops that would trigger at
 * once (-2010 "Stop price would trigger immediately."), unknown orders (-2013 / -2011).
 *
 * The market is driven by the test: {@link BinanceOrders.setPrice} moves the last price (filling
 * marketable limits, triggering stops, take-profits and trailing stops, expiring OCO siblings),
 * {@link BinanceOrders.fill} lets a counterparty take part of a resting order (partial fills).
 * Commission is charged on the asset received (base for buys, quote for sells), as Binance does
 * without BNB.
 *
 * Faults, on top of the server's own ({@link BinanceServer.inject}): {@link BinanceOrders.faultNext}
 * can answer 429/418 with `Retry-After` (a 418 starts a real ban: every signed request is refused until
 * it ends, and requests arriving during a ban or a 429 back-off window are counted as
 * {@link BinanceOrders.violations}), or process a request normally and lose its response
 * (`lose`: headers arrive, the body never completes; `drop`: the connection closes mid-body) — the
 * order exists, the client cannot know.
 *
 * @example
 * const server = await startBinanceServer();
 * const account = mountBinanceOrders(server, { apiKey, secret, balances: { USDT: '10000' }, prices: { BTCUSDT: '50000' } });
 * account.faultNext('POST', '/api/v3/order', { kind: 'lose' });
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { divRound, formatUnits, notionalOf, toUnits, UNITS_PER_ONE, type Units } from '../../operators/money';
import {
  BTCUSDT,
  ETHBTC,
  ETHUSDT,
  binanceError,
  type BinanceServer,
  type RouteRequest,
  type RouteResponse,
  type SymbolSpec,
} from './binanceServer';

export type BinanceOrderType =
  | 'MARKET'
  | 'LIMIT'
  | 'LIMIT_MAKER'
  | 'STOP_LOSS'
  | 'STOP_LOSS_LIMIT'
  | 'TAKE_PROFIT'
  | 'TAKE_PROFIT_LIMIT';
export type BinanceOrderStatus = 'NEW' | 'PARTIALLY_FILLED' | 'FILLED' | 'CANCELED' | 'EXPIRED' | 'REJECTED';
type BinanceSide = 'BUY' | 'SELL';

const ORDER_TYPES: readonly BinanceOrderType[] = [
  'MARKET',
  'LIMIT',
  'LIMIT_MAKER',
  'STOP_LOSS',
  'STOP_LOSS_LIMIT',
  'TAKE_PROFIT',
  'TAKE_PROFIT_LIMIT',
];

/** An order as the simulated exchange holds it (amounts in units of 1e-8). */
export interface SimOrder {
  readonly symbol: string;
  readonly orderId: number;
  readonly orderListId: number;
  readonly clientOrderId: string;
  readonly side: BinanceSide;
  readonly type: BinanceOrderType;
  readonly timeInForce: 'GTC' | 'IOC' | 'FOK' | null;
  /** Limit price; 0 for market-type orders. */
  readonly price: Units;
  /** Trigger price; 0 when none. */
  readonly stopPrice: Units;
  /** Trailing distance in BIPS (1/100 %); null when not trailing. */
  readonly trailingDelta: number | null;
  readonly origQty: Units;
  executedQty: Units;
  cumQuote: Units;
  status: BinanceOrderStatus;
  /** False for a stop/take-profit that has not triggered yet. */
  isWorking: boolean;
  readonly time: number;
  updateTime: number;
  workingTime: number;
  /** Trailing: best price seen since the trailing started; 0 until it started. */
  trailingRef: Units;
}

export interface SimTrade {
  readonly symbol: string;
  readonly id: number;
  readonly orderId: number;
  readonly orderListId: number;
  readonly price: Units;
  readonly qty: Units;
  readonly quoteQty: Units;
  readonly commission: Units;
  readonly commissionAsset: string;
  readonly time: number;
  readonly isBuyer: boolean;
  readonly isMaker: boolean;
}

/** A fault for the next matching signed request (method + path). */
export type OrderFault =
  /** Refused with this status and a Binance body; 418 also bans every signed request for `retryAfterSec`. */
  | {
      readonly kind: 'status';
      readonly status: 429 | 418 | 500 | 503;
      readonly retryAfterSec?: number;
      readonly code?: number;
      readonly msg?: string;
    }
  /** Processed normally (an order is placed!), but the response body never completes. */
  | { readonly kind: 'lose' }
  /** Processed normally, then the connection closes before the body is complete. */
  | { readonly kind: 'drop' }
  /**
   * Accepted by the gateway (key, signature checked) but executed `ms` later, whatever the client
   * does meanwhile — re-checking `recvWindow` then, as Binance's matching engine does; the answer is
   * lost. See {@link BinanceOrders.lateRequests} for what became of it.
   */
  | { readonly kind: 'late'; readonly ms: number };

export interface BinanceOrdersOptions {
  readonly apiKey: string;
  /** HMAC-SHA256 secret. */
  readonly secret: string;
  /** Free balances by asset, decimal strings. Default none. */
  readonly balances?: Readonly<Record<string, string>>;
  /** Last price by Binance symbol id (`BTCUSDT`), decimal strings. */
  readonly prices?: Readonly<Record<string, string>>;
  /** Symbols and filters; must be those the server lists. Default BTCUSDT, ETHUSDT, ETHBTC. */
  readonly symbols?: readonly SymbolSpec[];
  /** Commission rate (maker and taker), decimal string. Default `0.001` (0.1 %). */
  readonly commission?: string;
  /**
   * Once a 429 was sent, any signed request arriving before its `Retry-After` passed is refused with
   * 418 and bans for this long, ms (Binance bans IPs that do not back off). Default 5000.
   */
  readonly banAfterViolationMs?: number;
  /**
   * Requests arriving this soon after a 429/418 was sent were already on their way: answered as
   * Binance would, but not counted as violations, ms. Default 50.
   */
  readonly inFlightGraceMs?: number;
}

/** What became of a request executed late (fault `late`). */
export interface LateRequest {
  readonly method: string;
  readonly path: string;
  readonly receivedAt: number;
  readonly executedAt: number;
  /** False when it was refused at execution for being older than its recvWindow (-1021). */
  readonly executed: boolean;
  readonly status: number;
}

/** A request that arrived while the client was told to wait (429 window or 418 ban). */
export interface Violation {
  readonly method: string;
  readonly path: string;
  readonly receivedAt: number;
  readonly during: 'rate-limit' | 'ban';
}

interface OrderList {
  readonly orderListId: number;
  readonly listClientOrderId: string;
  readonly symbol: string;
  readonly orderIds: readonly number[];
  readonly transactionTime: number;
  listStatusType: 'EXEC_STARTED' | 'ALL_DONE';
  listOrderStatus: 'EXECUTING' | 'ALL_DONE';
}

interface Balance {
  free: Units;
  locked: Units;
}

interface Lock {
  readonly asset: string;
  remaining: Units;
}

type Params = Readonly<Record<string, string>>;

class Reject extends Error {
  constructor(readonly response: RouteResponse) {
    super(JSON.stringify(response.body));
  }
}

const reject = (status: number, code: number, msg: string): Reject => new Reject(binanceError(status, code, msg));
const mandatory = (name: string): Reject =>
  reject(400, -1102, `Mandatory parameter '${name}' was not sent, was empty/null, or malformed.`);
const filterFailure = (filter: string): Reject => reject(400, -1013, `Filter failure: ${filter}`);
const INSUFFICIENT = 'Account has insufficient balance for requested action.';

/** Units as Binance prints decimals: always 8 places. */
function decimal8(units: Units): string {
  const negative = units < 0n;
  const abs = negative ? -units : units;
  return `${negative ? '-' : ''}${abs / UNITS_PER_ONE}.${(abs % UNITS_PER_ONE).toString().padStart(8, '0')}`;
}

function parseAmount(params: Params, name: string): Units | undefined {
  const raw = params[name];
  if (raw === undefined || raw === '') return undefined;
  if (!/^\d+(\.\d+)?$/.test(raw))
    throw reject(
      400,
      -1100,
      `Illegal characters found in parameter '${name}'; legal range is '^([0-9]{1,20})(\\.[0-9]{1,20})?$'.`,
    );
  return toUnits(raw);
}

export class BinanceOrders {
  private readonly symbols: Map<string, SymbolSpec>;
  private readonly balances = new Map<string, Balance>();
  private readonly prices = new Map<string, Units>();
  private readonly orderList: SimOrder[] = [];
  private readonly byId = new Map<number, SimOrder>();
  private readonly locks = new Map<number, Lock>();
  private readonly lists = new Map<number, OrderList>();
  private readonly tradeList: SimTrade[] = [];
  private readonly faults = new Map<string, OrderFault[]>();
  private readonly violationList: Violation[] = [];
  private readonly lateList: LateRequest[] = [];
  private readonly inFlightGraceMs: number;
  private throttledAt = -Infinity;
  private readonly commissionRate: Units;
  private readonly banAfterViolationMs: number;
  private nextOrderId = 1;
  private nextListId = 1;
  private nextTradeId = 1;
  private bannedUntil = 0;
  private backOffUntil = 0;

  /** @internal use {@link mountBinanceOrders}. */
  constructor(
    private readonly server: BinanceServer,
    private readonly options: BinanceOrdersOptions,
  ) {
    this.symbols = new Map((options.symbols ?? [BTCUSDT, ETHUSDT, ETHBTC]).map((s) => [s.symbol, s]));
    for (const [asset, amount] of Object.entries(options.balances ?? {}))
      this.balances.set(asset, { free: toUnits(amount), locked: 0n });
    for (const [symbol, price] of Object.entries(options.prices ?? {})) this.prices.set(symbol, toUnits(price));
    this.commissionRate = toUnits(options.commission ?? '0.001');
    this.banAfterViolationMs = options.banAfterViolationMs ?? 5_000;
    this.inFlightGraceMs = options.inFlightGraceMs ?? 50;
    const signed = (
      method: string,
      path: string,
      handler: (params: Params, request: RouteRequest) => unknown,
    ): void => {
      server.route(method, path, (request) => this.handle(request, handler));
    };
    signed('POST', '/api/v3/order', (p) => this.newOrder(p));
    signed('GET', '/api/v3/order', (p) => this.orderView(this.findOrder(p, -2013, 'Order does not exist.')));
    signed('DELETE', '/api/v3/order', (p) => this.cancelOrder(p));
    signed('GET', '/api/v3/openOrders', (p) => this.openOrdersOf(p).map((o) => this.orderView(o)));
    signed('DELETE', '/api/v3/openOrders', (p) => this.cancelOpenOrders(p));
    signed('POST', '/api/v3/orderList/oco', (p) => this.newOco(p));
    signed('DELETE', '/api/v3/orderList', (p) => this.cancelOrderList(p));
    signed('GET', '/api/v3/account', () => this.account());
    signed('GET', '/api/v3/myTrades', (p) => this.myTrades(p));
  }

  // ── test controls ────────────────────────────────────────────────────────────────────────────

  /** Applies `faults` in turn to the next signed requests of `method path`. */
  faultNext(method: string, path: string, ...faults: OrderFault[]): void {
    const key = `${method.toUpperCase()} ${path}`;
    this.faults.set(key, [...(this.faults.get(key) ?? []), ...faults]);
  }

  /** Bans every signed request for `ms` (418 with Retry-After), as after a rate-limit violation. */
  banFor(ms: number, now = this.server.now()): void {
    this.bannedUntil = Math.max(this.bannedUntil, now + ms);
  }

  /**
   * Moves the last price of `symbol` (Binance id) and lets the book react: marketable limits fill at
   * their limit price (maker), stops / take-profits / trailing stops trigger and fill at this price
   * (taker) or start working as limits.
   */
  setPrice(symbol: string, price: string): void {
    const p = toUnits(price);
    this.prices.set(symbol, p);
    for (const order of this.orderList) {
      if (order.symbol !== symbol || !isOpen(order.status)) continue;
      this.react(order, p);
    }
  }

  /** A counterparty takes `qty` of a resting order (by client order id) at its limit price, or at `price`. */
  fill(clientOrderId: string, qty: string, price?: string): SimTrade {
    const order = this.orderList.find((o) => o.clientOrderId === clientOrderId && isOpen(o.status));
    if (!order) throw new Error(`fill: no open order ${clientOrderId}`);
    if (!order.isWorking) throw new Error(`fill: order ${clientOrderId} has not triggered`);
    const q = toUnits(qty);
    if (q <= 0n || q > order.origQty - order.executedQty)
      throw new Error(`fill: ${qty} is more than the open ${formatUnits(order.origQty - order.executedQty)}`);
    const trade = this.execute(order, q, price === undefined ? order.price : toUnits(price), true);
    return trade;
  }

  /** Every order ever accepted, in placement order (a snapshot). */
  orders(): readonly SimOrder[] {
    return this.orderList.map((o) => ({ ...o }));
  }

  /** Orders with this client order id (more than one means the same id was placed twice). */
  ordersWithClientId(clientOrderId: string): readonly SimOrder[] {
    return this.orders().filter((o) => o.clientOrderId === clientOrderId);
  }

  trades(): readonly SimTrade[] {
    return [...this.tradeList];
  }

  balance(asset: string): { free: string; locked: string } {
    const b = this.balances.get(asset) ?? { free: 0n, locked: 0n };
    return { free: formatUnits(b.free), locked: formatUnits(b.locked) };
  }

  /** Requests that arrived during a 429 back-off window or a 418 ban (after the in-flight grace). */
  violations(): readonly Violation[] {
    return [...this.violationList];
  }

  /** Requests executed late (fault `late`), once their time came. */
  lateRequests(): readonly LateRequest[] {
    return [...this.lateList];
  }

  /** Places an order directly (as if from another session), bypassing HTTP. Returns its view. */
  placeDirect(params: Readonly<Record<string, string>>): unknown {
    return this.newOrder(params);
  }

  // ── request handling ─────────────────────────────────────────────────────────────────────────

  private handle(request: RouteRequest, handler: (params: Params, request: RouteRequest) => unknown): RouteResponse {
    const now = this.server.now();
    const inFlight = now - this.throttledAt <= this.inFlightGraceMs;
    if (now < this.bannedUntil) {
      if (!inFlight)
        this.violationList.push({ method: request.method, path: request.path, receivedAt: now, during: 'ban' });
      return this.banResponse(now);
    }
    if (now < this.backOffUntil && !inFlight) {
      this.violationList.push({ method: request.method, path: request.path, receivedAt: now, during: 'rate-limit' });
      this.banFor(this.banAfterViolationMs, now);
      this.throttledAt = now;
      return this.banResponse(now);
    }
    const fault = this.takeFault(`${request.method} ${request.path}`);
    if (fault?.kind === 'status') {
      const retryAfterSec = fault.retryAfterSec;
      if (fault.status === 418) this.banFor((retryAfterSec ?? 120) * 1000, now);
      if (fault.status === 429 && retryAfterSec !== undefined) this.backOffUntil = now + retryAfterSec * 1000;
      if (fault.status === 418 || fault.status === 429) this.throttledAt = now;
      const defaults: Record<number, [number, string]> = {
        429: [
          -1003,
          'Too much request weight used; current limit is 6000 request weight per 1 MINUTE. Please use WebSocket Streams for live updates to avoid polling the API.',
        ],
        418: [
          -1003,
          `Way too much request weight used; IP banned until ${now + (retryAfterSec ?? 120) * 1000}. Please use WebSocket Streams for live updates to avoid bans.`,
        ],
        500: [-1000, 'An unknown error occurred while processing the request.'],
        503: [-1008, 'Server is currently overloaded with other requests. Please try again in a few minutes.'],
      };
      const [code, msg] = defaults[fault.status]!;
      return {
        status: fault.status,
        body: { code: fault.code ?? code, msg: fault.msg ?? msg },
        ...(retryAfterSec !== undefined ? { headers: { 'Retry-After': String(retryAfterSec) } } : {}),
      };
    }
    if (fault?.kind === 'late') return this.executeLate(request, handler, fault.ms, now);
    let response: RouteResponse;
    try {
      const params = this.authenticate(request, now);
      response = { status: 200, body: handler(params, request) };
    } catch (error) {
      if (error instanceof Reject) response = error.response;
      else throw error;
    }
    if (fault?.kind === 'lose' || fault?.kind === 'drop') {
      // The work is done; the answer announces more bytes than it carries, so the client never
      // gets a complete response ('drop' also closes the connection after the partial body).
      const text = JSON.stringify(response.body);
      return {
        ...response,
        headers: {
          'Content-Length': String(Buffer.byteLength(text) + 64),
          ...(fault.kind === 'drop' ? { Connection: 'close' } : {}),
        },
      };
    }
    return response;
  }

  /** Checks credentials now, executes in `ms` (re-checking recvWindow then), and never completes the answer. */
  private executeLate(
    request: RouteRequest,
    handler: (params: Params, request: RouteRequest) => unknown,
    ms: number,
    now: number,
  ): RouteResponse {
    try {
      this.authenticate(request, now);
    } catch (error) {
      if (error instanceof Reject) return error.response;
      throw error;
    }
    const timer = setTimeout(() => {
      const at = this.server.now();
      let status = 200;
      try {
        handler(this.authenticate(request, at), request);
      } catch (error) {
        if (!(error instanceof Reject)) throw error;
        status = error.response.status;
        const body = error.response.body as { code?: number };
        if (body.code === -1021) {
          this.lateList.push({
            method: request.method,
            path: request.path,
            receivedAt: now,
            executedAt: at,
            executed: false,
            status,
          });
          return;
        }
      }
      this.lateList.push({
        method: request.method,
        path: request.path,
        receivedAt: now,
        executedAt: at,
        executed: status === 200,
        status,
      });
    }, ms);
    timer.unref();
    return { status: 200, body: '', headers: { 'Content-Length': '64' } };
  }

  private banResponse(now: number): RouteResponse {
    const seconds = Math.max(1, Math.ceil((this.bannedUntil - now) / 1000));
    return {
      status: 418,
      body: {
        code: -1003,
        msg: `Way too much request weight used; IP banned until ${this.bannedUntil}. Please use WebSocket Streams for live updates to avoid bans.`,
      },
      headers: { 'Retry-After': String(seconds) },
    };
  }

  private takeFault(key: string): OrderFault | undefined {
    const queue = this.faults.get(key);
    return queue?.shift();
  }

  /** API key, signature and timestamp, as Binance checks them; returns the request's parameters. */
  private authenticate(request: RouteRequest, now: number): Params {
    const key = request.headers['x-mbx-apikey'];
    if (typeof key !== 'string' || key === '') throw reject(401, -2014, 'API-key format invalid.');
    if (key !== this.options.apiKey) throw reject(401, -2015, 'Invalid API-key, IP, or permissions for action.');
    const bodyParams = request.body === '' ? {} : Object.fromEntries(new URLSearchParams(request.body));
    const params: Record<string, string> = { ...request.query, ...bodyParams };
    const signature = params['signature'];
    if (signature === undefined || signature === '') throw mandatory('signature');
    // Binance signs totalParams = query string + request body, each without the signature.
    const unsigned = (text: string): string => text.replace(/&?signature=[^&]*/, '');
    const queryText = encodeParams(
      Object.fromEntries(Object.entries(request.query).filter(([k]) => k !== 'signature')),
    );
    const payload = unsigned(queryText) + unsigned(request.body);
    const expected = createHmac('sha256', this.options.secret).update(payload).digest('hex');
    if (expected.length !== signature.length || !timingSafeEqual(Buffer.from(expected), Buffer.from(signature))) {
      throw reject(400, -1022, 'Signature for this request is not valid.');
    }
    const timestamp = params['timestamp'];
    if (timestamp === undefined) throw mandatory('timestamp');
    const recvWindow = params['recvWindow'] === undefined ? 5_000 : Number(params['recvWindow']);
    if (!(recvWindow > 0) || recvWindow > 60_000) throw reject(400, -1131, 'recvWindow must be less than 60000');
    const ts = Number(timestamp);
    if (!Number.isFinite(ts) || ts > now + 1_000 || now - ts > recvWindow) {
      throw reject(400, -1021, 'Timestamp for this request is outside of the recvWindow.');
    }
    delete params['signature'];
    return params;
  }

  // ── endpoints ────────────────────────────────────────────────────────────────────────────────

  private spec(params: Params): SymbolSpec {
    const symbol = params['symbol'];
    if (symbol === undefined || symbol === '') throw mandatory('symbol');
    const spec = this.symbols.get(symbol);
    if (!spec) throw reject(400, -1121, 'Invalid symbol.');
    return spec;
  }

  private newOrder(params: Params): unknown {
    const spec = this.spec(params);
    const leg = this.validateLeg(spec, params, '');
    this.checkDuplicate(spec.symbol, leg.clientOrderId);
    const last = this.prices.get(spec.symbol);
    this.checkStopNotImmediate(leg, last);
    const lockNeed = this.lockNeed(spec, leg, last);
    this.reserve(lockNeed.asset, lockNeed.amount);
    const order = this.createOrder(spec, leg, -1, lockNeed);
    const fills = this.start(order, last);
    return this.orderResponse(
      order,
      params['newOrderRespType'] ?? (order.type === 'MARKET' || order.type === 'LIMIT' ? 'FULL' : 'ACK'),
      fills,
    );
  }

  private newOco(params: Params): unknown {
    const spec = this.spec(params);
    const side = params['side'];
    if (side !== 'BUY' && side !== 'SELL')
      throw side === undefined ? mandatory('side') : reject(400, -1117, 'Invalid side.');
    const quantity = parseAmount(params, 'quantity');
    if (quantity === undefined) throw mandatory('quantity');
    const legs = (['above', 'below'] as const).map((prefix) => {
      const legParams: Record<string, string> = { side, quantity: params['quantity']! };
      const type = params[`${prefix}Type`];
      if (type === undefined) throw mandatory(`${prefix}Type`);
      legParams['type'] = type;
      for (const [from, to] of [
        ['Price', 'price'],
        ['StopPrice', 'stopPrice'],
        ['TrailingDelta', 'trailingDelta'],
        ['TimeInForce', 'timeInForce'],
        ['ClientOrderId', 'newClientOrderId'],
      ] as const) {
        const value = params[`${prefix}${from}`];
        if (value !== undefined) legParams[to] = value;
      }
      return this.validateLeg(spec, legParams, prefix);
    });
    const [above, below] = legs as [Leg, Leg];
    // Binance: SELL → above is the take-profit (LIMIT_MAKER / TAKE_PROFIT*), below the stop (STOP_LOSS*);
    // BUY → above is the stop, below the take-profit.
    const takeProfitTypes: readonly BinanceOrderType[] = ['LIMIT_MAKER', 'TAKE_PROFIT', 'TAKE_PROFIT_LIMIT'];
    const stopTypes: readonly BinanceOrderType[] = ['STOP_LOSS', 'STOP_LOSS_LIMIT'];
    const [tp, sl] = side === 'SELL' ? [above, below] : [below, above];
    if (!takeProfitTypes.includes(tp.type) || !stopTypes.includes(sl.type)) {
      throw reject(400, -1167, 'Unsupported order combination.');
    }
    const last = this.prices.get(spec.symbol);
    const abovePrice = above.type === 'LIMIT_MAKER' ? above.price : above.stopPrice;
    const belowPrice = below.type === 'LIMIT_MAKER' ? below.price : below.stopPrice;
    if (last !== undefined && abovePrice > 0n && belowPrice > 0n && !(abovePrice > last && belowPrice < last)) {
      throw reject(400, -2010, 'The relationship of the prices for the orders is not correct.');
    }
    const listClientOrderId = params['listClientOrderId'] ?? `sim-list-${this.nextListId}`;
    for (const leg of legs) this.checkDuplicate(spec.symbol, leg.clientOrderId);
    if (above.clientOrderId === below.clientOrderId) throw reject(400, -2010, 'Duplicate order sent.');
    // One lock for the list: the larger of the legs' needs.
    const needs = legs.map((leg) => this.lockNeed(spec, leg, last));
    const need = needs[0]!.amount >= needs[1]!.amount ? needs[0]! : needs[1]!;
    this.reserve(need.asset, need.amount);
    const orderListId = this.nextListId++;
    const orders = legs.map((leg, i) =>
      this.createOrder(spec, leg, orderListId, i === 0 ? need : { asset: need.asset, amount: 0n }),
    );
    const list: OrderList = {
      orderListId,
      listClientOrderId,
      symbol: spec.symbol,
      orderIds: orders.map((o) => o.orderId),
      transactionTime: this.server.now(),
      listStatusType: 'EXEC_STARTED',
      listOrderStatus: 'EXECUTING',
    };
    this.lists.set(orderListId, list);
    for (const order of orders) this.start(order, last);
    return this.listView(list);
  }

  private cancelOrder(params: Params): unknown {
    const order = this.findOrder(params, -2011, 'Unknown order sent.');
    if (!isOpen(order.status)) throw reject(400, -2011, 'Unknown order sent.');
    if (order.orderListId !== -1) {
      // Canceling one leg cancels the whole order list; Binance answers with the list.
      const list = this.lists.get(order.orderListId)!;
      for (const id of list.orderIds) this.finish(this.byId.get(id)!, 'CANCELED');
      return this.listView(list);
    }
    this.finish(order, 'CANCELED');
    return {
      ...this.orderView(order),
      origClientOrderId: order.clientOrderId,
      clientOrderId: `cancel-${order.orderId}`,
      transactTime: this.server.now(),
    };
  }

  private cancelOrderList(params: Params): unknown {
    const spec = this.spec(params);
    const byClient = params['listClientOrderId'];
    const byId = params['orderListId'];
    if (byClient === undefined && byId === undefined) throw mandatory('orderListId');
    const list = [...this.lists.values()].find(
      (l) =>
        l.symbol === spec.symbol &&
        (byId !== undefined ? String(l.orderListId) === byId : l.listClientOrderId === byClient),
    );
    if (!list || list.listStatusType === 'ALL_DONE') throw reject(400, -2011, 'Unknown order sent.');
    for (const id of list.orderIds) this.finish(this.byId.get(id)!, 'CANCELED');
    return this.listView(list);
  }

  private cancelOpenOrders(params: Params): unknown {
    const spec = this.spec(params);
    const open = this.orderList.filter((o) => o.symbol === spec.symbol && isOpen(o.status));
    if (open.length === 0) throw reject(400, -2011, 'Unknown order sent.');
    const out: unknown[] = [];
    const listsDone = new Set<number>();
    for (const order of open) {
      if (order.orderListId !== -1) {
        if (listsDone.has(order.orderListId)) continue;
        listsDone.add(order.orderListId);
        const list = this.lists.get(order.orderListId)!;
        for (const id of list.orderIds) this.finish(this.byId.get(id)!, 'CANCELED');
        out.push(this.listView(list));
      } else {
        this.finish(order, 'CANCELED');
        out.push({
          ...this.orderView(order),
          origClientOrderId: order.clientOrderId,
          clientOrderId: `cancel-${order.orderId}`,
        });
      }
    }
    return out;
  }

  private openOrdersOf(params: Params): SimOrder[] {
    const symbol = params['symbol'];
    if (symbol !== undefined && !this.symbols.has(symbol)) throw reject(400, -1121, 'Invalid symbol.');
    return this.orderList.filter((o) => isOpen(o.status) && (symbol === undefined || o.symbol === symbol));
  }

  private account(): unknown {
    const rate = Number(formatUnits(this.commissionRate));
    return {
      makerCommission: Math.round(rate * 10_000),
      takerCommission: Math.round(rate * 10_000),
      buyerCommission: 0,
      sellerCommission: 0,
      commissionRates: {
        maker: decimal8(this.commissionRate),
        taker: decimal8(this.commissionRate),
        buyer: '0.00000000',
        seller: '0.00000000',
      },
      canTrade: true,
      canWithdraw: true,
      canDeposit: true,
      brokered: false,
      requireSelfTradePrevention: false,
      preventSor: false,
      updateTime: this.server.now(),
      accountType: 'SPOT',
      balances: [...this.balances].map(([asset, b]) => ({ asset, free: decimal8(b.free), locked: decimal8(b.locked) })),
      permissions: ['SPOT'],
      uid: 354937868,
    };
  }

  private myTrades(params: Params): unknown {
    const spec = this.spec(params);
    const orderId = params['orderId'];
    const fromId = params['fromId'] === undefined ? undefined : Number(params['fromId']);
    const start = params['startTime'] === undefined ? undefined : Number(params['startTime']);
    const end = params['endTime'] === undefined ? undefined : Number(params['endTime']);
    const limit = Math.min(1000, params['limit'] === undefined ? 500 : Number(params['limit']));
    return this.tradeList
      .filter(
        (t) =>
          t.symbol === spec.symbol &&
          (orderId === undefined || String(t.orderId) === orderId) &&
          (fromId === undefined || t.id >= fromId) &&
          (start === undefined || t.time >= start) &&
          (end === undefined || t.time <= end),
      )
      .slice(0, limit)
      .map((t) => ({
        symbol: t.symbol,
        id: t.id,
        orderId: t.orderId,
        orderListId: t.orderListId,
        price: decimal8(t.price),
        qty: decimal8(t.qty),
        quoteQty: decimal8(t.quoteQty),
        commission: decimal8(t.commission),
        commissionAsset: t.commissionAsset,
        time: t.time,
        isBuyer: t.isBuyer,
        isMaker: t.isMaker,
        isBestMatch: true,
      }));
  }

  // ── the matching engine ──────────────────────────────────────────────────────────────────────

  private validateLeg(spec: SymbolSpec, params: Params, prefix: string): Leg {
    const name = (n: string): string => (prefix === '' ? n : `${prefix}${n[0]!.toUpperCase()}${n.slice(1)}`);
    const side = params['side'];
    if (side === undefined) throw mandatory('side');
    if (side !== 'BUY' && side !== 'SELL') throw reject(400, -1117, 'Invalid side.');
    const type = params['type'];
    if (type === undefined) throw mandatory(name('type'));
    if (!ORDER_TYPES.includes(type as BinanceOrderType)) throw reject(400, -1116, 'Invalid orderType.');
    const t = type as BinanceOrderType;
    const quantity = parseAmount(params, 'quantity');
    if (quantity === undefined) throw mandatory('quantity');
    const price = parseAmount(params, 'price');
    const stopPrice = parseAmount(params, 'stopPrice');
    const trailingRaw = params['trailingDelta'];
    const trailingDelta = trailingRaw === undefined ? null : Number(trailingRaw);
    const hasLimit = t === 'LIMIT' || t === 'LIMIT_MAKER' || t === 'STOP_LOSS_LIMIT' || t === 'TAKE_PROFIT_LIMIT';
    const isConditional = t !== 'MARKET' && t !== 'LIMIT' && t !== 'LIMIT_MAKER';
    if (hasLimit && price === undefined) throw mandatory(name('price'));
    const needsTif = t === 'LIMIT' || t === 'STOP_LOSS_LIMIT' || t === 'TAKE_PROFIT_LIMIT';
    const tif = params['timeInForce'];
    if (needsTif && tif === undefined) throw mandatory(name('timeInForce'));
    if (tif !== undefined && tif !== 'GTC' && tif !== 'IOC' && tif !== 'FOK')
      throw reject(400, -1115, 'Invalid timeInForce.');
    if (isConditional && stopPrice === undefined && trailingDelta === null) throw mandatory(name('stopPrice'));
    if (!isConditional && trailingDelta !== null)
      throw reject(400, -1106, `Parameter '${name('trailingDelta')}' sent when not required.`);
    if (trailingDelta !== null && (!Number.isInteger(trailingDelta) || trailingDelta < 10 || trailingDelta > 2000)) {
      throw filterFailure('TRAILING_DELTA');
    }
    const clientOrderId = params['newClientOrderId'] ?? `sim-${this.nextOrderId}-${Math.floor(Math.random() * 1e9)}`;
    if (!/^[a-zA-Z0-9_-]{1,36}$/.test(clientOrderId)) {
      throw reject(
        400,
        -1100,
        `Illegal characters found in parameter '${name('newClientOrderId')}'; legal range is '^[a-zA-Z0-9-_]{1,36}$'.`,
      );
    }
    // PRICE_FILTER applies to price and stopPrice.
    const tick = toUnits(spec.tickSize);
    const minPrice = toUnits(spec.minPrice);
    const maxPrice = toUnits(spec.maxPrice);
    for (const p of [price, stopPrice]) {
      if (p === undefined) continue;
      if (p < minPrice || p > maxPrice || (tick > 0n && (p - minPrice) % tick !== 0n))
        throw filterFailure('PRICE_FILTER');
    }
    const step = toUnits(spec.stepSize);
    const minQty = toUnits(spec.minQty);
    const maxQty = toUnits(spec.maxQty);
    if (quantity < minQty || quantity > maxQty || (step > 0n && (quantity - minQty) % step !== 0n))
      throw filterFailure('LOT_SIZE');
    const refPrice = price ?? stopPrice ?? this.prices.get(spec.symbol);
    if (refPrice !== undefined && notionalOf(quantity, refPrice) < toUnits(spec.minNotional)) {
      throw filterFailure(spec.notionalFilter ?? 'NOTIONAL');
    }
    return {
      side,
      type: t,
      quantity,
      price: price ?? 0n,
      stopPrice: stopPrice ?? 0n,
      trailingDelta,
      timeInForce: needsTif || tif !== undefined ? ((tif ?? 'GTC') as 'GTC' | 'IOC' | 'FOK') : null,
      clientOrderId,
    };
  }

  private checkDuplicate(symbol: string, clientOrderId: string): void {
    if (this.orderList.some((o) => o.symbol === symbol && o.clientOrderId === clientOrderId && isOpen(o.status))) {
      throw reject(400, -2010, 'Duplicate order sent.');
    }
  }

  private checkStopNotImmediate(leg: Leg, last: Units | undefined): void {
    if (last === undefined || leg.stopPrice === 0n) return;
    const isStop = leg.type === 'STOP_LOSS' || leg.type === 'STOP_LOSS_LIMIT';
    const isTakeProfit = leg.type === 'TAKE_PROFIT' || leg.type === 'TAKE_PROFIT_LIMIT';
    if (leg.trailingDelta !== null) return; // stopPrice is an activation price for trailing orders
    const immediate =
      (isStop && leg.side === 'SELL' && last <= leg.stopPrice) ||
      (isStop && leg.side === 'BUY' && last >= leg.stopPrice) ||
      (isTakeProfit && leg.side === 'SELL' && last >= leg.stopPrice) ||
      (isTakeProfit && leg.side === 'BUY' && last <= leg.stopPrice);
    if (immediate) throw reject(400, -2010, 'Stop price would trigger immediately.');
  }

  /** What placing the order reserves: base for sells, quote at the limit (or trigger, or last) price for buys. */
  private lockNeed(spec: SymbolSpec, leg: Leg, last: Units | undefined): { asset: string; amount: Units } {
    if (leg.side === 'SELL') return { asset: spec.baseAsset, amount: leg.quantity };
    if (leg.type === 'MARKET') {
      // Market buys reserve nothing but must be payable at the current price.
      const cost = last === undefined ? 0n : notionalOf(leg.quantity, last);
      const free = this.balances.get(spec.quoteAsset)?.free ?? 0n;
      if (cost > free) throw reject(400, -2010, INSUFFICIENT);
      return { asset: spec.quoteAsset, amount: 0n };
    }
    const price = leg.price > 0n ? leg.price : leg.stopPrice > 0n ? leg.stopPrice : (last ?? 0n);
    return { asset: spec.quoteAsset, amount: notionalOf(leg.quantity, price) };
  }

  private reserve(asset: string, amount: Units): void {
    const b = this.balances.get(asset) ?? { free: 0n, locked: 0n };
    if (amount > b.free) throw reject(400, -2010, INSUFFICIENT);
    b.free -= amount;
    b.locked += amount;
    this.balances.set(asset, b);
  }

  private createOrder(
    spec: SymbolSpec,
    leg: Leg,
    orderListId: number,
    lock: { asset: string; amount: Units },
  ): SimOrder {
    const now = this.server.now();
    const conditional = leg.type !== 'MARKET' && leg.type !== 'LIMIT' && leg.type !== 'LIMIT_MAKER';
    const order: SimOrder = {
      symbol: spec.symbol,
      orderId: this.nextOrderId++,
      orderListId,
      clientOrderId: leg.clientOrderId,
      side: leg.side,
      type: leg.type,
      timeInForce: leg.timeInForce,
      price: leg.price,
      stopPrice: leg.stopPrice,
      trailingDelta: leg.trailingDelta,
      origQty: leg.quantity,
      executedQty: 0n,
      cumQuote: 0n,
      status: 'NEW',
      isWorking: !conditional,
      time: now,
      updateTime: now,
      workingTime: conditional ? -1 : now,
      trailingRef: 0n,
    };
    this.orderList.push(order);
    this.byId.set(order.orderId, order);
    this.locks.set(order.orderId, { asset: lock.asset, remaining: lock.amount });
    return order;
  }

  /** Starts an order's life: market orders execute, marketable limits fill, trailing stops start. */
  private start(order: SimOrder, last: Units | undefined): SimTrade[] {
    const before = this.tradeList.length;
    if (order.type === 'MARKET') {
      if (last === undefined) {
        this.finish(order, 'EXPIRED');
      } else {
        this.execute(order, order.origQty, last, false);
      }
    } else if (order.trailingDelta !== null && order.stopPrice === 0n && last !== undefined) {
      order.trailingRef = last;
    } else if (order.isWorking && last !== undefined) {
      this.react(order, last);
    }
    return this.tradeList.slice(before);
  }

  private react(order: SimOrder, price: Units): void {
    if (!isOpen(order.status)) return;
    const sell = order.side === 'SELL';
    if (!order.isWorking) {
      if (!this.triggered(order, price)) return;
      order.isWorking = true;
      order.workingTime = this.server.now();
      this.expireSiblings(order);
      if (order.type === 'STOP_LOSS' || order.type === 'TAKE_PROFIT') {
        this.execute(order, order.origQty - order.executedQty, price, false);
        return;
      }
    }
    const marketable = sell ? price >= order.price : price <= order.price;
    if (order.price > 0n && marketable) this.execute(order, order.origQty - order.executedQty, order.price, true);
  }

  /** Whether a stop / take-profit / trailing order triggers at `price`; updates the trailing reference. */
  private triggered(order: SimOrder, price: Units): boolean {
    const sell = order.side === 'SELL';
    if (order.trailingDelta !== null) {
      if (order.trailingRef === 0n) {
        // Trailing with an activation price starts once the market reaches it.
        const activated = order.stopPrice === 0n || (sell ? price >= order.stopPrice : price <= order.stopPrice);
        if (!activated) return false;
        order.trailingRef = price;
        return false;
      }
      if (sell ? price > order.trailingRef : price < order.trailingRef) order.trailingRef = price;
      const distance = divRound(order.trailingRef * BigInt(order.trailingDelta), 10_000n);
      return sell ? price <= order.trailingRef - distance : price >= order.trailingRef + distance;
    }
    const isStop = order.type === 'STOP_LOSS' || order.type === 'STOP_LOSS_LIMIT';
    if (isStop) return sell ? price <= order.stopPrice : price >= order.stopPrice;
    return sell ? price >= order.stopPrice : price <= order.stopPrice;
  }

  /** One trade of `qty` at `price`: balances move, commission is charged on the asset received. */
  private execute(order: SimOrder, qty: Units, price: Units, isMaker: boolean): SimTrade {
    // OCO: the other leg expires first, handing this leg the list's reservation.
    this.expireSiblings(order);
    const spec = this.symbols.get(order.symbol)!;
    const quote = notionalOf(qty, price);
    const lock = this.locks.get(order.orderId) ?? { asset: '', remaining: 0n };
    const base = this.balanceOf(spec.baseAsset);
    const quoteBalance = this.balanceOf(spec.quoteAsset);
    let commission: Units;
    let commissionAsset: string;
    if (order.side === 'BUY') {
      // Pay from the reservation at the reserved price, the rest (or a market buy) from free.
      const reservedPart =
        lock.remaining > 0n ? minUnits(lock.remaining, notionalOf(qty, order.price > 0n ? order.price : price)) : 0n;
      lock.remaining -= reservedPart;
      quoteBalance.locked -= reservedPart;
      quoteBalance.free += reservedPart - quote;
      commission = notionalOf(qty, this.commissionRate);
      commissionAsset = spec.baseAsset;
      base.free += qty - commission;
    } else {
      const reservedPart = minUnits(lock.remaining, qty);
      lock.remaining -= reservedPart;
      base.locked -= reservedPart;
      base.free -= qty - reservedPart;
      commission = notionalOf(quote, this.commissionRate);
      commissionAsset = spec.quoteAsset;
      quoteBalance.free += quote - commission;
    }
    const now = this.server.now();
    order.executedQty += qty;
    order.cumQuote += quote;
    order.updateTime = now;
    order.status = order.executedQty >= order.origQty ? 'FILLED' : 'PARTIALLY_FILLED';
    const trade: SimTrade = {
      symbol: order.symbol,
      id: this.nextTradeId++,
      orderId: order.orderId,
      orderListId: order.orderListId,
      price,
      qty,
      quoteQty: quote,
      commission,
      commissionAsset,
      time: now,
      isBuyer: order.side === 'BUY',
      isMaker,
    };
    this.tradeList.push(trade);
    if (order.status === 'FILLED') this.finish(order, 'FILLED');
    return trade;
  }

  private balanceOf(asset: string): Balance {
    let b = this.balances.get(asset);
    if (!b) {
      b = { free: 0n, locked: 0n };
      this.balances.set(asset, b);
    }
    return b;
  }

  /** OCO: once one leg triggers or trades, the other expires; the list's reservation moves to the survivor. */
  private expireSiblings(order: SimOrder): void {
    if (order.orderListId === -1) return;
    const list = this.lists.get(order.orderListId)!;
    for (const id of list.orderIds) {
      const sibling = this.byId.get(id)!;
      if (sibling === order || !isOpen(sibling.status)) continue;
      const siblingLock = this.locks.get(sibling.orderId);
      const ownLock = this.locks.get(order.orderId);
      if (siblingLock && ownLock && siblingLock.remaining > 0n) {
        ownLock.remaining += siblingLock.remaining;
        siblingLock.remaining = 0n;
      }
      sibling.status = 'EXPIRED';
      sibling.updateTime = this.server.now();
    }
    this.settleList(list);
  }

  /** Ends an order and releases what it still reserved. */
  private finish(order: SimOrder, status: BinanceOrderStatus): void {
    if (isOpen(order.status) || status === 'FILLED') order.status = status;
    order.updateTime = this.server.now();
    const lock = this.locks.get(order.orderId);
    if (lock && lock.remaining > 0n) {
      const b = this.balanceOf(lock.asset);
      b.locked -= lock.remaining;
      b.free += lock.remaining;
      lock.remaining = 0n;
    }
    if (order.orderListId !== -1) {
      const list = this.lists.get(order.orderListId)!;
      // Moving a list's reservation between legs must not leave it stranded on a finished one.
      for (const id of list.orderIds) {
        const leg = this.byId.get(id)!;
        const legLock = this.locks.get(id);
        if (!isOpen(leg.status) && legLock && legLock.remaining > 0n) {
          const b = this.balanceOf(legLock.asset);
          b.locked -= legLock.remaining;
          b.free += legLock.remaining;
          legLock.remaining = 0n;
        }
      }
      this.settleList(list);
    }
  }

  private settleList(list: OrderList): void {
    if (list.orderIds.every((id) => !isOpen(this.byId.get(id)!.status))) {
      list.listStatusType = 'ALL_DONE';
      list.listOrderStatus = 'ALL_DONE';
    }
  }

  private findOrder(params: Params, code: number, msg: string): SimOrder {
    const spec = this.spec(params);
    const orderId = params['orderId'];
    const clientId = params['origClientOrderId'];
    if (orderId === undefined && clientId === undefined) throw mandatory('orderId');
    // By client id Binance finds the most recent order with that id.
    const candidates = this.orderList.filter(
      (o) =>
        o.symbol === spec.symbol &&
        (orderId !== undefined ? String(o.orderId) === orderId : o.clientOrderId === clientId),
    );
    const order = candidates[candidates.length - 1];
    if (!order) throw reject(400, code, msg);
    return order;
  }

  // ── wire formats ─────────────────────────────────────────────────────────────────────────────

  private orderView(order: SimOrder): Record<string, unknown> {
    return {
      symbol: order.symbol,
      orderId: order.orderId,
      orderListId: order.orderListId,
      clientOrderId: order.clientOrderId,
      price: decimal8(order.price),
      origQty: decimal8(order.origQty),
      executedQty: decimal8(order.executedQty),
      cummulativeQuoteQty: decimal8(order.cumQuote),
      status: order.status,
      timeInForce: order.timeInForce ?? 'GTC',
      type: order.type,
      side: order.side,
      stopPrice: decimal8(order.stopPrice),
      ...(order.trailingDelta !== null ? { trailingDelta: order.trailingDelta } : {}),
      icebergQty: '0.00000000',
      time: order.time,
      updateTime: order.updateTime,
      isWorking: order.isWorking,
      workingTime: order.workingTime,
      origQuoteOrderQty: '0.00000000',
      selfTradePreventionMode: 'EXPIRE_MAKER',
    };
  }

  private orderResponse(order: SimOrder, respType: string, fills: readonly SimTrade[]): Record<string, unknown> {
    const ack = {
      symbol: order.symbol,
      orderId: order.orderId,
      orderListId: order.orderListId,
      clientOrderId: order.clientOrderId,
      transactTime: order.time,
    };
    if (respType === 'ACK') return ack;
    const view = this.orderView(order);
    const result: Record<string, unknown> = {
      ...ack,
      price: view['price'],
      origQty: view['origQty'],
      executedQty: view['executedQty'],
      origQuoteOrderQty: '0.00000000',
      cummulativeQuoteQty: view['cummulativeQuoteQty'],
      status: order.status,
      timeInForce: view['timeInForce'],
      type: order.type,
      side: order.side,
      ...(order.stopPrice > 0n ? { stopPrice: view['stopPrice'] } : {}),
      ...(order.trailingDelta !== null ? { trailingDelta: order.trailingDelta } : {}),
      workingTime: order.workingTime,
      selfTradePreventionMode: 'EXPIRE_MAKER',
    };
    if (respType === 'RESULT') return result;
    return {
      ...result,
      fills: fills.map((t) => ({
        price: decimal8(t.price),
        qty: decimal8(t.qty),
        commission: decimal8(t.commission),
        commissionAsset: t.commissionAsset,
        tradeId: t.id,
      })),
    };
  }

  private listView(list: OrderList): Record<string, unknown> {
    const orders = list.orderIds.map((id) => this.byId.get(id)!);
    return {
      orderListId: list.orderListId,
      contingencyType: 'OCO',
      listStatusType: list.listStatusType,
      listOrderStatus: list.listOrderStatus,
      listClientOrderId: list.listClientOrderId,
      transactionTime: list.transactionTime,
      symbol: list.symbol,
      orders: orders.map((o) => ({ symbol: o.symbol, orderId: o.orderId, clientOrderId: o.clientOrderId })),
      orderReports: orders.map((o) => this.orderView(o)),
    };
  }
}

interface Leg {
  readonly side: BinanceSide;
  readonly type: BinanceOrderType;
  readonly quantity: Units;
  readonly price: Units;
  readonly stopPrice: Units;
  readonly trailingDelta: number | null;
  readonly timeInForce: 'GTC' | 'IOC' | 'FOK' | null;
  readonly clientOrderId: string;
}

function isOpen(status: BinanceOrderStatus): boolean {
  return status === 'NEW' || status === 'PARTIALLY_FILLED';
}

function minUnits(a: Units, b: Units): Units {
  return a < b ? a : b;
}

/** The query string as ccxt writes it (`encodeURIComponent` per key and value, in order). */
function encodeParams(params: Readonly<Record<string, string>>): string {
  return Object.entries(params)
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
    .join('&');
}

/** Mounts the signed order and account endpoints on `server`. Call once per server. */
export function mountBinanceOrders(server: BinanceServer, options: BinanceOrdersOptions): BinanceOrders {
  return new BinanceOrders(server, options);
}
