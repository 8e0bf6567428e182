/**
 * The WebSocket side of the local Binance spot server (see binanceServer.ts, which owns the HTTP
 * server and attaches a {@link StreamHub} to its `upgrade` event): raw streams on `/ws` and
 * `/ws/<stream>`, combined streams on `/stream?streams=a/b` (payloads wrapped as
 * `{"stream":…,"data":…}`), and the live-subscription protocol
 * (`{"method":"SUBSCRIBE","params":["btcusdt@trade"],"id":1}` → `{"result":null,"id":1}`,
 * `UNSUBSCRIBE`, `LIST_SUBSCRIPTIONS`, `SET_PROPERTY`/`GET_PROPERTY` `combined`).
 *
 * Also here: {@link DepthBook}, the server's L2 book with Binance's update-id semantics (a
 * snapshot carries `lastUpdateId`; every diff event carries `U`, the first update id in it, and
 * `u`, the last), which `/api/v3/depth` serves and `depthUpdate` events change.
 *
 * Test controls live on the hub: silence connections (no data, no replies, no pongs — a stalled
 * feed), drop them without a close frame (a dead TCP connection), refuse the next upgrades, and
 * inspect what each connection subscribed to and when it went away.
 */
import type * as http from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer, type RawData } from 'ws';

/** Stream names Binance spot serves (`<symbol>@<kind>`), symbol in lower case. */
const STREAM_NAME =
  /^[a-z0-9]+@(trade|aggTrade|bookTicker|ticker|miniTicker|avgPrice|ticker_(1h|4h|1d)|depth(5|10|20)?(@100ms|@1000ms)?|kline_(1s|1m|3m|5m|15m|30m|1h|2h|4h|6h|8h|12h|1d|3d|1w|1M))$/;

/** Binance's limit of streams on one connection. */
const MAX_STREAMS_PER_CONNECTION = 1024;

/** Closed connections remembered for inspection (the most recent ones). */
const CLOSED_CONNECTIONS_KEPT = 1000;

/** Control requests remembered for inspection (the most recent ones). */
const REQUESTS_KEPT = 10_000;

export function isStreamName(name: string): boolean {
  return STREAM_NAME.test(name);
}

export interface StreamConnectionInfo {
  /** 1-based, in order of connection. */
  readonly id: number;
  /** Request path and query, e.g. `/ws/0` or `/stream?streams=btcusdt@trade`. */
  readonly url: string;
  /** Payloads are wrapped as `{"stream":…,"data":…}` (a `/stream` connection, or `combined` set). */
  readonly combined: boolean;
  readonly streams: readonly string[];
  /** Server clock, ms. */
  readonly openedAt: number;
  readonly closedAt: number | null;
  /** Close code as the server saw it: 1000 normal, 1005 no status, 1006 dropped without a close frame. */
  readonly closeCode: number | null;
  /** Silenced by {@link StreamHub.silence}: nothing is sent on it any more. */
  readonly silent: boolean;
  /** Data messages sent on this connection (replies excluded). */
  readonly sent: number;
}

/** A control message a client sent (SUBSCRIBE…). */
export interface StreamRequest {
  readonly connection: number;
  readonly method: string;
  readonly params: unknown;
  readonly id: unknown;
  /** Server clock, ms. */
  readonly at: number;
}

class Connection {
  readonly streams = new Set<string>();
  closedAt: number | null = null;
  closeCode: number | null = null;
  silent = false;
  sent = 0;
  constructor(
    readonly id: number,
    readonly url: string,
    public combined: boolean,
    readonly openedAt: number,
    readonly ws: WebSocket,
  ) {}

  info(): StreamConnectionInfo {
    return {
      id: this.id,
      url: this.url,
      combined: this.combined,
      streams: [...this.streams],
      openedAt: this.openedAt,
      closedAt: this.closedAt,
      closeCode: this.closeCode,
      silent: this.silent,
      sent: this.sent,
    };
  }
}

export interface StreamHubOptions {
  /** The server's clock, ms. */
  readonly now: () => number;
}

/** Connections, subscriptions and delivery of stream payloads. */
export class StreamHub {
  private readonly wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, autoPong: false });
  private readonly open = new Map<number, Connection>();
  private readonly closed: Connection[] = [];
  private readonly byStream = new Map<string, Set<Connection>>();
  private readonly requestLog: StreamRequest[] = [];
  private refusals: { status: number; remaining: number } | null = null;
  private nextId = 1;
  private closing = false;

  constructor(private readonly options: StreamHubOptions) {}

  /** Serves WebSocket upgrades of `server` on `/ws…` and `/stream…`; anything else gets 404. */
  attach(server: http.Server): void {
    server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => this.upgrade(req, socket, head));
  }

  /** Sends `payload` to every live connection subscribed to `stream`. Returns how many got it. */
  publish(stream: string, payload: object | string): number {
    const subscribers = this.byStream.get(stream);
    if (!subscribers || subscribers.size === 0) return 0;
    const raw = typeof payload === 'string' ? payload : JSON.stringify(payload);
    let wrapped: string | undefined;
    let delivered = 0;
    for (const connection of subscribers) {
      if (connection.silent || connection.ws.readyState !== WebSocket.OPEN) continue;
      if (connection.combined) {
        wrapped ??= `{"stream":"${stream}","data":${raw}}`;
        connection.ws.send(wrapped);
      } else {
        connection.ws.send(raw);
      }
      connection.sent += 1;
      delivered += 1;
    }
    return delivered;
  }

  /** Live connections subscribed to `stream`. */
  subscriberCount(stream: string): number {
    let n = 0;
    for (const connection of this.byStream.get(stream) ?? []) if (!connection.silent) n += 1;
    return n;
  }

  /** Open connections, in order of connection. */
  connections(): readonly StreamConnectionInfo[] {
    return [...this.open.values()].map((c) => c.info());
  }

  /** Every connection seen (the last {@link CLOSED_CONNECTIONS_KEPT} closed ones and the open ones), by id. */
  connectionLog(): readonly StreamConnectionInfo[] {
    return [...this.closed, ...this.open.values()].sort((a, b) => a.id - b.id).map((c) => c.info());
  }

  /** Control messages received, oldest first. */
  requests(): readonly StreamRequest[] {
    return [...this.requestLog];
  }

  /**
   * Stalls the matching open connections: from now on they get no data, no replies and no pongs,
   * as a feed that hangs without closing. Connections opened later are not affected.
   * Returns how many were silenced.
   */
  silence(filter: (c: StreamConnectionInfo) => boolean = () => true): number {
    let n = 0;
    for (const connection of this.open.values()) {
      if (!connection.silent && filter(connection.info())) {
        connection.silent = true;
        n += 1;
      }
    }
    return n;
  }

  /** Destroys the matching open connections without a close frame (the client sees 1006). */
  drop(filter: (c: StreamConnectionInfo) => boolean = () => true): number {
    return this.end(filter, (ws) => ws.terminate());
  }

  /** Closes the matching open connections with a close frame. */
  disconnect(code = 1000, reason = '', filter: (c: StreamConnectionInfo) => boolean = () => true): number {
    return this.end(filter, (ws) => ws.close(code, reason));
  }

  /** Stops delivery to the matching connections at once (their 'close' comes later) and ends them. */
  private end(filter: (c: StreamConnectionInfo) => boolean, how: (ws: WebSocket) => void): number {
    let n = 0;
    for (const connection of [...this.open.values()]) {
      if (!filter(connection.info())) continue;
      for (const stream of [...connection.streams]) this.removeFromStream(connection, stream);
      how(connection.ws);
      n += 1;
    }
    return n;
  }

  /** The next `count` upgrade requests are answered with an HTTP error instead of a WebSocket. */
  refuseUpgrades(count: number, status = 503): void {
    this.refusals = count > 0 ? { status, remaining: count } : null;
  }

  /** Largest amount of data queued in any open socket, bytes (for producers that pace themselves). */
  maxBufferedAmount(): number {
    let max = 0;
    for (const connection of this.open.values()) max = Math.max(max, connection.ws.bufferedAmount);
    return max;
  }

  /** Drops every connection and stops serving upgrades. */
  close(): void {
    this.closing = true;
    for (const connection of [...this.open.values()]) connection.ws.terminate();
    this.wss.close();
  }

  private upgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname;
    const isRaw = path === '/ws' || path.startsWith('/ws/');
    const isCombined = path === '/stream' || path.startsWith('/stream/');
    if (this.closing || (!isRaw && !isCombined)) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    if (this.refusals) {
      const { status } = this.refusals;
      this.refusals.remaining -= 1;
      if (this.refusals.remaining <= 0) this.refusals = null;
      socket.end(`HTTP/1.1 ${status} Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      const connection = new Connection(this.nextId++, req.url ?? path, isCombined, this.options.now(), ws);
      this.open.set(connection.id, connection);
      // `/ws/<stream>` and `/stream?streams=a/b/c` subscribe at connect time; ccxt's `/ws/0` names no stream.
      const initial = isRaw ? path.split('/').slice(2) : (url.searchParams.get('streams') ?? '').split('/');
      for (const name of initial) if (isStreamName(name)) this.subscribe(connection, name);
      ws.on('message', (data: RawData, isBinary: boolean) => this.onMessage(connection, data, isBinary));
      ws.on('ping', (data: Buffer) => {
        if (!connection.silent && ws.readyState === WebSocket.OPEN) ws.pong(data);
      });
      ws.on('error', () => undefined); // a reset socket also closes; 'close' does the bookkeeping
      ws.on('close', (code: number) => this.onClose(connection, code));
    });
  }

  private onClose(connection: Connection, code: number): void {
    connection.closedAt = this.options.now();
    connection.closeCode = code;
    this.open.delete(connection.id);
    for (const stream of connection.streams) this.removeFromStream(connection, stream);
    this.closed.push(connection);
    if (this.closed.length > CLOSED_CONNECTIONS_KEPT) this.closed.shift();
  }

  private subscribe(connection: Connection, stream: string): void {
    connection.streams.add(stream);
    let set = this.byStream.get(stream);
    if (!set) {
      set = new Set();
      this.byStream.set(stream, set);
    }
    set.add(connection);
  }

  private unsubscribe(connection: Connection, stream: string): void {
    connection.streams.delete(stream);
    this.removeFromStream(connection, stream);
  }

  /** Stops delivering `stream` to `connection`, keeping the connection's list (for inspection). */
  private removeFromStream(connection: Connection, stream: string): void {
    const set = this.byStream.get(stream);
    if (!set) return;
    set.delete(connection);
    if (set.size === 0) this.byStream.delete(stream);
  }

  private reply(connection: Connection, body: object): void {
    if (connection.silent || connection.ws.readyState !== WebSocket.OPEN) return;
    connection.ws.send(JSON.stringify(body));
  }

  private onMessage(connection: Connection, data: RawData, isBinary: boolean): void {
    if (connection.silent) return;
    const text = isBinary
      ? ''
      : Array.isArray(data)
        ? Buffer.concat(data).toString('utf8')
        : Buffer.from(data as ArrayBuffer).toString('utf8');
    let message: unknown;
    try {
      message = JSON.parse(text);
    } catch {
      this.reply(connection, { error: { code: 3, msg: 'Invalid JSON: expected value at line 1 column 1' }, id: null });
      return;
    }
    if (typeof message !== 'object' || message === null || Array.isArray(message)) {
      this.reply(connection, { error: { code: 2, msg: 'Invalid request: expected an object' }, id: null });
      return;
    }
    const { method, params, id } = message as { method?: unknown; params?: unknown; id?: unknown };
    this.requestLog.push({ connection: connection.id, method: String(method), params, id, at: this.options.now() });
    if (this.requestLog.length > REQUESTS_KEPT) this.requestLog.shift();
    const validId =
      id === null || (typeof id === 'number' && Number.isInteger(id) && id >= 0) || typeof id === 'string';
    if (!validId) {
      this.reply(connection, {
        error: { code: 2, msg: 'Invalid request: request ID must be an unsigned integer' },
        id: null,
      });
      return;
    }
    switch (method) {
      case 'SUBSCRIBE':
      case 'UNSUBSCRIBE': {
        if (!Array.isArray(params) || !params.every((p): p is string => typeof p === 'string')) {
          this.reply(connection, {
            error: { code: 2, msg: 'Invalid request: params must be an array of stream names' },
            id,
          });
          return;
        }
        const invalid = params.find((p) => !isStreamName(p));
        if (invalid !== undefined) {
          this.reply(connection, { error: { code: 2, msg: `Invalid request: invalid stream name '${invalid}'` }, id });
          return;
        }
        if (method === 'SUBSCRIBE') {
          const after = new Set([...connection.streams, ...params]);
          if (after.size > MAX_STREAMS_PER_CONNECTION) {
            this.reply(connection, {
              error: { code: 2, msg: `Invalid request: too many streams (max ${MAX_STREAMS_PER_CONNECTION})` },
              id,
            });
            return;
          }
          for (const stream of params) this.subscribe(connection, stream);
        } else {
          for (const stream of params) this.unsubscribe(connection, stream);
        }
        this.reply(connection, { result: null, id });
        return;
      }
      case 'LIST_SUBSCRIPTIONS':
        this.reply(connection, { result: [...connection.streams], id });
        return;
      case 'SET_PROPERTY': {
        if (Array.isArray(params) && params[0] === 'combined' && typeof params[1] === 'boolean') {
          connection.combined = params[1];
          this.reply(connection, { result: null, id });
        } else {
          this.reply(connection, { error: { code: 0, msg: 'Unknown property' }, id });
        }
        return;
      }
      case 'GET_PROPERTY':
        if (Array.isArray(params) && params[0] === 'combined')
          this.reply(connection, { result: connection.combined, id });
        else this.reply(connection, { error: { code: 0, msg: 'Unknown property' }, id });
        return;
      default:
        this.reply(connection, {
          error: {
            code: 2,
            msg: `Invalid request: unknown variant ${JSON.stringify(method)}, expected one of SUBSCRIBE, UNSUBSCRIBE, LIST_SUBSCRIPTIONS, SET_PROPERTY, GET_PROPERTY`,
          },
          id,
        });
    }
  }
}

/** One price level as on the wire: price, quantity (decimal strings). */
export type WireLevel = readonly [price: string, qty: string];

/** A `/api/v3/depth` answer. */
export interface DepthSnapshot {
  readonly lastUpdateId: number;
  /** Best (highest) first. */
  readonly bids: readonly WireLevel[];
  /** Best (lowest) first. */
  readonly asks: readonly WireLevel[];
}

/** A diff-depth event's content. */
export interface DepthDiff {
  /** Bid levels to set; quantity "0" removes the level. */
  readonly b?: readonly WireLevel[];
  readonly a?: readonly WireLevel[];
  /** First update id in the event. Default: the book's lastUpdateId + 1. */
  readonly U?: number;
  /** Final update id in the event. Default: U + (number of levels changed) − 1. */
  readonly u?: number;
  /** Event time, ms. Default: the server clock. */
  readonly E?: number;
}

/** The `depthUpdate` event as sent. */
export interface DepthUpdateEvent {
  readonly e: 'depthUpdate';
  readonly E: number;
  readonly s: string;
  readonly U: number;
  readonly u: number;
  readonly b: readonly WireLevel[];
  readonly a: readonly WireLevel[];
}

/** Price key: the same price written with different trailing zeros is the same level. */
function levelKey(price: string): string {
  return String(Number(price));
}

/**
 * A venue-side L2 book with Binance's update ids. State after a diff = state before + the levels
 * of the diff; a diff whose `u` is not past `lastUpdateId` is already contained and changes
 * nothing (as when replaying a recorded stream that starts before the recorded snapshot).
 */
export class DepthBook {
  private readonly bids = new Map<string, WireLevel>();
  private readonly asks = new Map<string, WireLevel>();
  private last: number;

  constructor(snapshot: DepthSnapshot) {
    this.last = snapshot.lastUpdateId;
    for (const level of snapshot.bids) this.set(this.bids, level);
    for (const level of snapshot.asks) this.set(this.asks, level);
  }

  get lastUpdateId(): number {
    return this.last;
  }

  /** Applies a diff (when it is newer than the book) and returns the event that carries it. */
  apply(symbol: string, diff: DepthDiff, now: number): DepthUpdateEvent {
    const b = diff.b ?? [];
    const a = diff.a ?? [];
    const U = diff.U ?? this.last + 1;
    const u = diff.u ?? U + Math.max(1, b.length + a.length) - 1;
    if (u < U) throw new Error(`depth diff for ${symbol}: u=${u} < U=${U}`);
    if (u > this.last) {
      for (const level of b) this.set(this.bids, level);
      for (const level of a) this.set(this.asks, level);
      this.last = u;
    }
    return { e: 'depthUpdate', E: diff.E ?? now, s: symbol, U, u, b, a };
  }

  /** The best `limit` levels of each side. */
  snapshot(limit = Number.MAX_SAFE_INTEGER): DepthSnapshot {
    const byPrice = (m: Map<string, WireLevel>, descending: boolean): WireLevel[] =>
      [...m.values()]
        .sort((x, y) => (descending ? Number(y[0]) - Number(x[0]) : Number(x[0]) - Number(y[0])))
        .slice(0, limit);
    return { lastUpdateId: this.last, bids: byPrice(this.bids, true), asks: byPrice(this.asks, false) };
  }

  private set(side: Map<string, WireLevel>, level: WireLevel): void {
    const key = levelKey(level[0]);
    if (Number(level[1]) === 0) side.delete(key);
    else side.set(key, [level[0], level[1]]);
  }
}
