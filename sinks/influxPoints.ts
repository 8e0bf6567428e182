/**
 * The InfluxDB schema of bot4: which pipeline event becomes which point (measurement, tags,
 * fields, time), as InfluxDB line protocol.
 *
 * Every point carries the tags of its run — `venue`, `symbol`, `timeframe`, `tier`, `config`
 * (the config hash) and `run` (`backtest` · `paper` · `live`) — plus at most one or two tags from
 * small closed sets (signal source, side, status, reason code, stage, breaker state). Ids (client
 * order ids, signal ids) and free text are fields, never tags, so the number of series stays
 * bounded however long a session runs.
 *
 * Time is the event's own time (`tsEvent`, ms) in nanoseconds; two points of one series in the
 * same millisecond get 1 ns, 2 ns… added in the order they came. A point is therefore identified
 * by (measurement, tags, time) once and for all, and writing it again (a retry, a spill replayed
 * after a restart) overwrites it with itself instead of adding a second one.
 */
import { unitsToNumber } from '../operators/money';
import type {
  Bar,
  Features,
  Mode,
  ModeChanged,
  OrderEvent,
  OrderIntent,
  Portfolio,
  RiskDecision,
  Signal,
} from '../operators/types';

/** How long a stage of the decision took for one bar (wall clock, measured by the driver). */
export interface StageLatency {
  readonly kind: 'stage-latency';
  /** `signal` (bar → fused signal), `risk` (fused signal → risk decision), `decision` (bar → last event of its decision). */
  readonly stage: string;
  readonly seconds: number;
  /** Event time of the bar the latency belongs to. */
  readonly tsEvent: number;
}

/** A breaker changing state, as the pipeline reports it. */
export interface BreakerChange {
  readonly kind: 'breaker-state-changed';
  readonly component: string;
  readonly from: string;
  readonly to: string;
  readonly reason: string;
  readonly tsEvent: number;
}

/** What the observability sinks understand; anything else is ignored. */
export type ObservedEvent =
  | Bar
  | Features
  | Signal
  | OrderIntent
  | RiskDecision
  | OrderEvent
  | Portfolio
  | ModeChanged
  | BreakerChange
  | StageLatency
  | {
      readonly kind: 'order-halted';
      readonly clientOrderId: string;
      readonly signalId: string;
      readonly reason: string;
      readonly tsEvent: number;
    }
  | { readonly kind: string; readonly tsEvent?: number };

/** The run a point belongs to: the common tags. */
export interface RunTags {
  readonly venue: string;
  readonly symbol: string;
  readonly timeframe: string;
  readonly tier: string;
  /** Config hash. */
  readonly config: string;
  /** `backtest` · `paper` · `live`. */
  readonly run: string;
}

/** Measurement names, one per kind of fact. */
export const MEASUREMENTS = [
  'bar',
  'signal',
  'decision',
  'order',
  'fill',
  'equity',
  'mode',
  'breaker',
  'latency',
] as const;

type FieldValue = number | string | boolean | { readonly int: number };

/**
 * Turns events into line-protocol lines. Holds the per-series last millisecond and counter that
 * make timestamps unique; one encoder per run.
 */
export class PointEncoder {
  private readonly symbol: string;
  private readonly commonTags: string;
  private readonly series = new Map<string, string>();
  private readonly last = new Map<string, { ms: number; n: number }>();

  constructor(tags: RunTags) {
    this.symbol = tags.symbol;
    this.commonTags = `,config=${tagValue(tags.config)},run=${tagValue(tags.run)},tier=${tagValue(tags.tier)},timeframe=${tagValue(tags.timeframe)},venue=${tagValue(tags.venue)}`;
  }

  /** The lines of one event (none for kinds that are not stored). */
  encode(event: ObservedEvent, out: string[]): void {
    switch (event.kind) {
      case 'bar': {
        const b = event as Bar;
        this.push(out, 'bar', b.symbol, '', b.tsEvent, {
          open: b.open,
          high: b.high,
          low: b.low,
          close: b.close,
          volume: b.volume,
          trades: { int: b.trades },
        });
        break;
      }
      case 'features': {
        const f = event as Features;
        const fields: Record<string, FieldValue> = {};
        for (const name in f.values) {
          const value = f.values[name];
          if (value !== null && value !== undefined) fields[fieldKey(name)] = value;
        }
        this.push(out, 'features', f.bar.symbol, '', f.tsEvent, fields);
        break;
      }
      case 'signal': {
        const s = event as Signal;
        this.push(out, 'signal', s.symbol, `,source=${tagValue(s.source)}`, s.tsEvent, {
          direction: { int: s.direction },
          strength: s.strength,
          confidence: s.confidence,
          available: s.available,
          price: s.price,
          id: s.id,
        });
        break;
      }
      case 'approved': {
        const d = event as Extract<RiskDecision, { kind: 'approved' }>;
        this.push(out, 'decision', d.order.symbol, `,outcome=approved,reason=OK,side=${d.order.side}`, d.tsEvent, {
          qty: unitsToNumber(d.order.qty),
          ref_price: d.order.refPrice,
          reduces_risk: d.order.reducesRisk,
          client_order_id: d.order.clientOrderId,
          signal_id: d.order.signalId,
        });
        break;
      }
      case 'denied': {
        const d = event as Extract<RiskDecision, { kind: 'denied' }>;
        this.push(
          out,
          'decision',
          d.intent.symbol,
          `,outcome=denied,reason=${tagValue(d.code)},side=${d.intent.side}`,
          d.tsEvent,
          {
            qty: unitsToNumber(d.intent.qty),
            ref_price: d.intent.refPrice,
            reduces_risk: d.intent.reducesRisk,
            signal_id: d.intent.signalId,
            message: d.message,
          },
        );
        break;
      }
      case 'order-accepted':
      case 'order-rejected':
      case 'order-canceled':
      case 'order-unknown':
      case 'order-halted': {
        const o = event as {
          kind: string;
          clientOrderId: string;
          signalId: string;
          tsEvent: number;
          code?: string;
          reason?: string;
          message?: string;
        };
        const status = o.kind.slice('order-'.length);
        const fields: Record<string, FieldValue> = { client_order_id: o.clientOrderId, signal_id: o.signalId };
        if (o.code !== undefined) fields.code = o.code;
        const text = o.message ?? o.reason;
        if (text !== undefined) fields.message = text;
        this.push(out, 'order', this.symbol, `,status=${status}`, o.tsEvent, fields);
        break;
      }
      case 'fill': {
        const f = event as Extract<OrderEvent, { kind: 'fill' }>;
        this.push(out, 'fill', f.symbol, `,liquidity=${f.liquidity},side=${f.side}`, f.tsEvent, {
          qty: unitsToNumber(f.qty),
          price: unitsToNumber(f.price),
          notional: unitsToNumber(f.notional),
          fee: unitsToNumber(f.fee),
          leaves_qty: unitsToNumber(f.leavesQty),
          client_order_id: f.clientOrderId,
          signal_id: f.signalId,
        });
        break;
      }
      case 'portfolio': {
        const p = event as Portfolio;
        let exposure = 0;
        let open = 0;
        for (const position of Object.values(p.positions)) {
          if (position.qty === 0n) continue;
          open++;
          exposure += Math.abs(unitsToNumber(position.qty) * position.markPrice);
        }
        this.push(out, 'equity', this.symbol, '', p.tsEvent, {
          equity: p.equity,
          peak_equity: p.peakEquity,
          drawdown: p.drawdown,
          cash: unitsToNumber(p.cash),
          realized_pnl: unitsToNumber(p.realizedPnl),
          fees_paid: unitsToNumber(p.feesPaid),
          exposure,
          open_positions: { int: open },
        });
        break;
      }
      case 'mode-changed': {
        const m = event as ModeChanged;
        this.push(out, 'mode', this.symbol, '', m.tsEvent, {
          from: m.from,
          to: m.to,
          level: { int: MODE_LEVEL[m.to] },
          reason: m.reason,
        });
        break;
      }
      case 'breaker-state-changed': {
        const b = event as BreakerChange;
        this.push(out, 'breaker', this.symbol, `,component=${tagValue(b.component)}`, b.tsEvent, {
          from: b.from,
          to: b.to,
          open: b.to === 'open' ? 1 : b.to === 'half-open' ? 0.5 : 0,
          reason: b.reason,
        });
        break;
      }
      case 'stage-latency': {
        const l = event as StageLatency;
        this.push(out, 'latency', this.symbol, `,stage=${tagValue(l.stage)}`, l.tsEvent, { seconds: l.seconds });
        break;
      }
      default:
        break;
    }
  }

  private push(
    out: string[],
    measurement: string,
    symbol: string,
    extraTags: string,
    tsMs: number,
    fields: Record<string, FieldValue>,
  ): void {
    const key = `${measurement}|${symbol}|${extraTags}`;
    let series = this.series.get(key);
    if (series === undefined) {
      series = `${measurement}${sortTags(`${this.commonTags},symbol=${tagValue(symbol)}${extraTags}`)}`;
      this.series.set(key, series);
    }
    let fieldText = '';
    for (const name in fields) {
      const text = fieldValue(fields[name]!);
      if (text === undefined) continue;
      fieldText += `${fieldText.length > 0 ? ',' : ''}${name}=${text}`;
    }
    if (fieldText.length === 0) return;
    const ms = Math.trunc(tsMs);
    const seen = this.last.get(series);
    let n = 0;
    if (seen === undefined) this.last.set(series, { ms, n: 0 });
    else if (seen.ms === ms) n = ++seen.n;
    else {
      seen.ms = ms;
      seen.n = 0;
    }
    out.push(`${series} ${fieldText} ${ms}${String(n).padStart(6, '0')}`);
  }
}

/** Modes as numbers for graphs and alerts: 0 Normal, 1 Paused, 2 Reduced, 3 Emergency. */
export const MODE_LEVEL: Readonly<Record<Mode, number>> = { Normal: 0, Paused: 1, Reduced: 2, Emergency: 3 };

/** Tags in key order (InfluxDB's canonical order; keeps one spelling per series). */
function sortTags(tags: string): string {
  const parts = tags.split(/(?<!\\),/).filter((p) => p.length > 0);
  parts.sort();
  return `,${parts.join(',')}`;
}

function tagValue(value: string): string {
  return value.length === 0 ? 'none' : value.replace(/[,= \\]/g, (c) => `\\${c}`).replace(/\n/g, ' ');
}

const NEEDS_ESCAPE = /[\\"\n]/;

/** A field key: commas, equals signs and spaces escaped. */
function fieldKey(name: string): string {
  return name.replace(/[,= ]/g, (c) => `\\${c}`);
}

function fieldValue(value: FieldValue): string | undefined {
  switch (typeof value) {
    case 'number':
      return Number.isFinite(value) ? String(value) : undefined;
    case 'boolean':
      return value ? 'true' : 'false';
    case 'string':
      return NEEDS_ESCAPE.test(value)
        ? `"${value.replace(/[\\"]/g, (c) => `\\${c}`).replace(/\n/g, '\\n')}"`
        : `"${value}"`;
    default:
      return Number.isInteger(value.int) ? `${value.int}i` : Number.isFinite(value.int) ? String(value.int) : undefined;
  }
}
