/**
 * Restart recovery: the journal is the source of truth. Reads a session folder's `journal.jsonl`
 * and `audit.jsonl` and folds them (`operators/recoverSession.ts`) into what the next session
 * starts from — portfolio, open orders, used client order ids, mode and kill latch, breakers, the
 * newest signal — and says how the previous session ended and which torn lines were isolated.
 */
import { formatUnits } from '../operators/money';
import { foldJournal, type RecoveredSession } from '../operators/recoverSession';
import type { Portfolio } from '../operators/types';
import { readJournal, type TornLine } from '../sinks/journal';

export interface Recovery {
  readonly state: RecoveredSession;
  /** Torn lines found (a crash mid-write), per file. */
  readonly torn: readonly (TornLine & { readonly file: string })[];
}

/**
 * Rebuilds the session state from the two journals. The portfolio, orders, signals and breakers
 * come from the journal; the kill latch is kept when either journal ends in Emergency (the audit
 * journal is fsynced line by line, the journal may be one write behind it) — fail-closed.
 */
export function recoverFromJournals(
  journalFile: string,
  auditFile: string,
  start: { readonly initialCash: bigint; readonly quote: string },
): Recovery {
  const journal = readJournal(journalFile);
  const audit = readJournal(auditFile);
  const fromJournal = foldJournal(journal.records, start);
  const fromAudit = foldJournal(audit.records, start);
  const latched = fromJournal.killLatched || fromAudit.killLatched;
  const latchReason = fromAudit.latchReason ?? fromJournal.latchReason;
  const state: RecoveredSession = {
    ...fromJournal,
    mode: latched ? 'Emergency' : fromJournal.mode,
    killLatched: latched,
    ...(latched && latchReason !== undefined ? { latchReason } : {}),
    // A session that wrote its header to the audit journal only (killed before the journal's
    // first write) still counts.
    sessions: Math.max(fromJournal.sessions, fromAudit.sessions),
  };
  return {
    state,
    torn: [
      ...journal.torn.map((t) => ({ ...t, file: journalFile })),
      ...audit.torn.map((t) => ({ ...t, file: auditFile })),
    ],
  };
}

/** A portfolio as a header's `start` (amounts as bigints; the journal writes them as decimals). */
export function portfolioRecord(p: Portfolio): Record<string, unknown> {
  return {
    quote: p.quote,
    initialCash: p.initialCash,
    cash: p.cash,
    realizedPnl: p.realizedPnl,
    feesPaid: p.feesPaid,
    peakEquity: p.peakEquity,
    positions: Object.fromEntries(
      Object.entries(p.positions).map(([symbol, pos]) => [
        symbol,
        { qty: pos.qty, costBasis: pos.costBasis, markPrice: pos.markPrice },
      ]),
    ),
    tsEvent: p.tsEvent,
  };
}

/** One line about what was recovered, for the session log. */
export function describeRecovery(recovery: Recovery): string {
  const s = recovery.state;
  if (s.sessions === 0) return 'journal: empty, a first session';
  const positions = Object.values(s.portfolio.positions)
    .map((p) => `${p.symbol} ${formatUnits(p.qty)}`)
    .join(', ');
  const open = Object.keys(s.openOrders).length;
  return (
    `journal: ${s.sessions} earlier session(s), the last one ${s.previousEnd === 'stopped' ? 'stopped cleanly' : 'CRASHED (no stop record)'}; ` +
    `${s.fills} fills → cash ${formatUnits(s.portfolio.cash)} ${s.portfolio.quote}, positions ${positions || 'none'}; ` +
    `${open} open order(s); ${s.usedClientOrderIds.size} client order ids used; mode ${s.mode}${s.killLatched ? ` (LATCHED: ${s.latchReason ?? 'emergency'})` : ''}` +
    (Object.values(s.breakers).some((b) => b !== 'CLOSED')
      ? `; breakers not closed at the end: ${Object.entries(s.breakers)
          .filter(([, b]) => b !== 'CLOSED')
          .map(([c, b]) => `${c} ${b}`)
          .join(', ')} (restored: they start so and cool down)`
      : '') +
    (recovery.torn.length > 0
      ? `; ${recovery.torn.length} torn line(s) isolated (${recovery.torn.map((t) => `${t.file}:${t.line}`).join(', ')})`
      : '')
  );
}
