/**
 * Which backups to keep (spec §17.1): the newest backup of every hour for the last 24 hours, of
 * every day for 30 days, of every ISO week for 12 weeks and of every month for 12 months; the
 * newest backup of all is always kept. A backup kept by any rule is kept. Times are UTC.
 */

export interface RetentionPolicy {
  /** Hourly slots kept, counted back from now; default 24. */
  readonly hours: number;
  /** Daily slots; default 30. */
  readonly days: number;
  /** Weekly slots (Monday-based weeks); default 12. */
  readonly weeks: number;
  /** Monthly slots; default 12. */
  readonly months: number;
}

export const SPEC_RETENTION: RetentionPolicy = Object.freeze({ hours: 24, days: 30, weeks: 12, months: 12 });

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** 1970-01-01 was a Thursday: shift so that weeks start on Monday. */
const MONDAY_SHIFT = 3 * DAY;

type Slot = (t: number) => number;
const hourSlot: Slot = (t) => Math.floor(t / HOUR);
const daySlot: Slot = (t) => Math.floor(t / DAY);
const weekSlot: Slot = (t) => Math.floor((t + MONDAY_SHIFT) / (7 * DAY));
const monthSlot: Slot = (t) => {
  const d = new Date(t);
  return d.getUTCFullYear() * 12 + d.getUTCMonth();
};

/**
 * The backups to keep among `times` (ms since the epoch) at `now`: for each rule, the newest
 * backup in each of the last N slots (the slot of `now` included). Backups from the future are
 * kept (a clock went back: nothing is deleted on its word).
 *
 * @throws RangeError for a policy count that is not a non-negative integer.
 */
export function backupsToKeep(
  times: readonly number[],
  now: number,
  policy: RetentionPolicy = SPEC_RETENTION,
): Set<number> {
  for (const [key, n] of Object.entries(policy)) {
    if (!Number.isInteger(n) || n < 0)
      throw new RangeError(`retention.${key}: expected a whole number ≥ 0, found ${n}`);
  }
  const keep = new Set<number>();
  const sorted = [...times].sort((a, b) => b - a); // newest first
  if (sorted.length > 0) keep.add(sorted[0]!);
  for (const t of sorted) if (t > now) keep.add(t);
  const rules: [Slot, number][] = [
    [hourSlot, policy.hours],
    [daySlot, policy.days],
    [weekSlot, policy.weeks],
    [monthSlot, policy.months],
  ];
  for (const [slot, count] of rules) {
    const current = slot(now);
    const seen = new Set<number>();
    for (const t of sorted) {
      if (t > now) continue;
      const s = slot(t);
      if (current - s >= count || seen.has(s)) continue;
      seen.add(s);
      keep.add(t);
    }
  }
  return keep;
}
