/**
 * What the read-only dashboard shows, folded from a session's journal and audit lines (the
 * source of truth; the dashboard never asks the running session anything). Amounts are summed
 * exactly in bigint units from the journal's decimal strings.
 *
 * Equity = the session's starting equity (its header) + Σ cash flows of the fills (sells minus
 * buys, minus fees) + Σ position × mark, the mark being the newest price the journal has for the
 * symbol (a fused signal's bar close, or a fill). PnL = equity − starting equity.
 */
import { formatUnits, toUnits, unitsToNumber, type Units } from '../operators/money';

export interface DashboardPosition {
  readonly symbol: string;
  /** Exact, as a decimal string. */
  readonly qty: string;
  readonly mark: number;
  readonly value: number;
}

export interface DashboardAuditLine {
  readonly tsEvent: number;
  readonly kind: string;
  readonly text: string;
}

export interface DashboardState {
  readonly session: {
    readonly name: string;
    readonly hash: string;
    readonly mode: string;
    readonly venue: string;
    readonly symbol: string;
    readonly startedAt: number;
  } | null;
  /** Event time of the newest journal line. */
  readonly lastEventAt: number | null;
  readonly lines: number;
  readonly initialEquity: number | null;
  readonly equity: number | null;
  readonly pnl: number | null;
  /** Exact fee total, decimal string. */
  readonly fees: string;
  /** Exact quote cash flow of all fills (sells − buys − fees), decimal string. */
  readonly cashFlow: string;
  /** [event time ms, equity] after each fill and each fused signal (at most `maxCurvePoints`, oldest thinned). */
  readonly equityCurve: readonly (readonly [number, number])[];
  readonly positions: readonly DashboardPosition[];
  readonly openPositionsValue: number;
  readonly openOrders: number;
  readonly counts: {
    readonly signals: number;
    readonly orders: number;
    readonly fills: number;
    readonly denied: number;
    readonly halted: number;
  };
  readonly risk: {
    readonly heat: number | null;
    readonly var99: number | null;
    readonly volatility: number | null;
    readonly correlation: number | null;
    readonly drawdown: number | null;
    readonly lastDenial: string | null;
    readonly denials: Readonly<Record<string, number>>;
  };
  readonly tradingMode: string;
  readonly killSwitch: { readonly latched: boolean; readonly reason: string | null };
  readonly breakers: Readonly<
    Record<string, { readonly state: string; readonly reason: string; readonly tsEvent: number }>
  >;
  /** Newest audit events first, at most 50. */
  readonly audit: readonly DashboardAuditLine[];
}

type Line = { readonly kind?: string; readonly [key: string]: unknown };

const AUDIT_LIMIT = 50;

/** Folds journal lines (and audit lines) into the dashboard's state. */
export class DashboardFold {
  private session: DashboardState['session'] = null;
  private initialEquity: number | null = null;
  private lastEventAt: number | null = null;
  private lines = 0;
  private cash: Units = 0n;
  private fees: Units = 0n;
  private readonly qty = new Map<string, Units>();
  private readonly marks = new Map<string, number>();
  private curve: [number, number][] = [];
  private readonly open = new Set<string>();
  private counts = { signals: 0, orders: 0, fills: 0, denied: 0, halted: 0 };
  private risk = {
    heat: null as number | null,
    var99: null as number | null,
    volatility: null as number | null,
    correlation: null as number | null,
  };
  private peak: number | null = null;
  private readonly denials: Record<string, number> = {};
  private lastDenial: string | null = null;
  private mode = 'Normal';
  private kill = { latched: false, reason: null as string | null };
  private readonly breakers: Record<string, { state: string; reason: string; tsEvent: number }> = {};
  private audit: DashboardAuditLine[] = [];

  constructor(private readonly maxCurvePoints = 2_000) {}

  /** One journal line (parsed JSON). */
  journal(line: Line): void {
    this.lines++;
    const ts = typeof line['tsEvent'] === 'number' ? (line['tsEvent'] as number) : undefined;
    if (ts !== undefined) this.lastEventAt = Math.max(this.lastEventAt ?? ts, ts);
    switch (line.kind) {
      case 'session': {
        if (line['event'] !== 'started') break;
        const config = (line['config'] ?? {}) as { name?: string; hash?: string };
        this.session = {
          name: String(config.name ?? ''),
          hash: String(config.hash ?? ''),
          mode: String(line['mode'] ?? ''),
          venue: String(line['venue'] ?? ''),
          symbol: String(line['symbol'] ?? ''),
          startedAt: ts ?? 0,
        };
        // A restarted session appends to the same journal: the first start is where PnL counts from.
        if (this.initialEquity === null && typeof line['initialEquity'] === 'number')
          this.initialEquity = line['initialEquity'] as number;
        break;
      }
      case 'signal':
        if (line['source'] === 'fused' && typeof line['price'] === 'number') {
          this.counts.signals++;
          this.marks.set(String(line['symbol']), line['price'] as number);
          if (ts !== undefined) this.point(ts);
        }
        break;
      case 'approved': {
        const numbers = (line['numbers'] ?? {}) as Record<string, unknown>;
        this.takeRisk(numbers);
        break;
      }
      case 'denied': {
        this.counts.denied++;
        const code = String(line['code']);
        this.denials[code] = (this.denials[code] ?? 0) + 1;
        this.lastDenial = String(line['message'] ?? code);
        this.takeRisk((line['numbers'] ?? {}) as Record<string, unknown>);
        break;
      }
      case 'order-accepted':
        this.counts.orders++;
        this.open.add(String(line['clientOrderId']));
        break;
      case 'order-rejected':
      case 'order-canceled':
        this.open.delete(String(line['clientOrderId']));
        break;
      case 'order-halted':
        this.counts.halted++;
        break;
      case 'fill': {
        this.counts.fills++;
        const symbol = String(line['symbol']);
        const qty = toUnits(String(line['qty']));
        const notional = toUnits(String(line['notional']));
        const fee = toUnits(String(line['fee'] ?? '0'));
        const buy = line['side'] === 'buy';
        this.qty.set(symbol, (this.qty.get(symbol) ?? 0n) + (buy ? qty : -qty));
        this.cash += (buy ? -notional : notional) - fee;
        this.fees += fee;
        this.marks.set(symbol, unitsToNumber(toUnits(String(line['price']))));
        if (toUnits(String(line['leavesQty'] ?? '0')) === 0n) this.open.delete(String(line['clientOrderId']));
        if (ts !== undefined) this.point(ts);
        break;
      }
      case 'mode-changed':
        this.mode = String(line['to']);
        this.modeAudit(line);
        break;
      case 'breaker-state-changed':
        this.breakers[String(line['component'])] = {
          state: String(line['to']),
          reason: String(line['reason'] ?? ''),
          tsEvent: ts ?? 0,
        };
        break;
      default:
        break;
    }
  }

  /** One audit line (parsed JSON): shown newest first. */
  auditLine(line: Line): void {
    const ts = typeof line['tsEvent'] === 'number' ? (line['tsEvent'] as number) : 0;
    const text = describeAudit(line);
    this.audit.unshift({ tsEvent: ts, kind: String(line.kind), text });
    if (this.audit.length > AUDIT_LIMIT) this.audit.length = AUDIT_LIMIT;
  }

  state(): DashboardState {
    const positions: DashboardPosition[] = [];
    let openValue = 0;
    for (const [symbol, qty] of this.qty) {
      if (qty === 0n) continue;
      const mark = this.marks.get(symbol) ?? 0;
      const value = unitsToNumber(qty) * mark;
      openValue += Math.abs(value);
      positions.push({ symbol, qty: formatUnits(qty), mark, value });
    }
    const equity = this.equity();
    return {
      session: this.session,
      lastEventAt: this.lastEventAt,
      lines: this.lines,
      initialEquity: this.initialEquity,
      equity,
      pnl: equity !== null && this.initialEquity !== null ? equity - this.initialEquity : null,
      fees: formatUnits(this.fees),
      cashFlow: formatUnits(this.cash),
      equityCurve: this.curve.slice(),
      positions,
      openPositionsValue: openValue,
      openOrders: this.open.size,
      counts: { ...this.counts },
      risk: {
        ...this.risk,
        drawdown: equity !== null && this.peak !== null && this.peak > 0 ? Math.max(0, 1 - equity / this.peak) : null,
        lastDenial: this.lastDenial,
        denials: { ...this.denials },
      },
      tradingMode: this.mode,
      killSwitch: { ...this.kill },
      breakers: { ...this.breakers },
      audit: this.audit.slice(),
    };
  }

  private equity(): number | null {
    if (this.initialEquity === null) return null;
    let held = 0;
    for (const [symbol, qty] of this.qty) if (qty !== 0n) held += unitsToNumber(qty) * (this.marks.get(symbol) ?? 0);
    return this.initialEquity + unitsToNumber(this.cash) + held;
  }

  private point(ts: number): void {
    const equity = this.equity();
    if (equity === null) return;
    this.peak = Math.max(this.peak ?? equity, equity);
    const last = this.curve[this.curve.length - 1];
    if (last && last[0] === ts) last[1] = equity;
    else this.curve.push([ts, equity]);
    if (this.curve.length > this.maxCurvePoints)
      this.curve = this.curve.filter((_, i) => i % 2 === 0 || i === this.curve.length - 1);
  }

  private takeRisk(numbers: Record<string, unknown>): void {
    for (const key of ['heat', 'var99', 'volatility', 'correlation'] as const) {
      const v = numbers[key];
      if (typeof v === 'number') this.risk[key] = v;
    }
  }

  private modeAudit(line: Line): void {
    const reason = String(line['reason'] ?? '');
    if (line['to'] === 'Emergency' && reason.startsWith('kill switch pressed')) this.kill = { latched: true, reason };
    else if (reason.startsWith('reset:')) this.kill = { latched: false, reason: null };
  }
}

function describeAudit(line: Line): string {
  switch (line.kind) {
    case 'session':
      return `session ${String(line['event'] ?? '')} (${String(line['mode'] ?? '')})`;
    case 'mode-changed':
      return `mode ${String(line['from'])} → ${String(line['to'])}: ${String(line['reason'] ?? '')}`;
    case 'order-halted':
      return `order halted ${String(line['clientOrderId'] ?? '')}: ${String(line['reason'] ?? '')}`;
    case 'breaker-state-changed':
      return `breaker ${String(line['component'])} ${String(line['from'])} → ${String(line['to'])}: ${String(line['reason'] ?? '')}`;
    case 'cancel-all':
      return `cancel all: ${String(line['reason'] ?? '')}`;
    case 'kill-switch':
      return `kill switch: ${String(line['reason'] ?? '')}`;
    default:
      return String(line.kind);
  }
}
