import { deepStrictEqual, equal, ok, throws } from 'node:assert/strict';
import fc from 'fast-check';
import { backupsToKeep, SPEC_RETENTION } from '../../operators/backupRetention';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const NOW = Date.UTC(2026, 11, 2, 17, 30); // a Wednesday

describe('backupsToKeep (spec §17.1 retention)', () => {
  it('hourly backups for a year: 24 hourly + daily for 30 days + weekly for 12 weeks + monthly for 12 months', () => {
    const times = Array.from({ length: 400 * 24 }, (_, i) => NOW - i * HOUR);
    const keep = backupsToKeep(times, NOW);
    // the last 24 hours, each hour's newest (= its only) backup
    for (let i = 0; i < 24; i++) ok(keep.has(NOW - i * HOUR), `hour ${i}`);
    ok(
      !keep.has(NOW - 25 * HOUR) || new Date(NOW - 25 * HOUR).getUTCHours() === 23,
      'an older hour kept only as a day’s newest',
    );
    // each of the last 30 days keeps its newest backup (23:30 of that day, today's at NOW)
    for (let d = 1; d < 30; d++) {
      const endOfDay = Date.UTC(2026, 11, 2 - d, 23, 30);
      ok(keep.has(endOfDay), `day −${d}`);
    }
    // 12 months: the newest of each month
    for (let m = 1; m < 12; m++) {
      const lastOfMonth = Date.UTC(2026, 11 - m + 1, 1) - 30 * 60_000; // 23:30 on the month's last day
      ok(keep.has(lastOfMonth), `month −${m}`);
    }
    ok(keep.size <= 24 + 30 + 12 + 12 + 1);
    ok(keep.size >= 60);
    ok(!keep.has(NOW - 399 * DAY), 'older than a year is deleted');
  });

  it('always keeps the newest backup and anything from the future; none in, none out', () => {
    deepStrictEqual([...backupsToKeep([NOW - 5 * 365 * DAY], NOW)], [NOW - 5 * 365 * DAY]);
    ok(backupsToKeep([NOW + HOUR, NOW - 400 * DAY, NOW - 401 * DAY], NOW).has(NOW + HOUR));
    equal(backupsToKeep([], NOW).size, 0);
  });

  it('refuses a policy count that is not a whole number, naming it', () => {
    throws(
      () => backupsToKeep([NOW], NOW, { ...SPEC_RETENTION, days: -1 }),
      /retention\.days: expected a whole number ≥ 0, found -1/,
    );
  });

  it('property: running it again on what it kept deletes nothing more, and it keeps only backups it was given', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 0, max: 500 * 24 }), { maxLength: 300 }), (hoursAgo) => {
        const times = hoursAgo.map((h) => NOW - h * HOUR - (h % 7) * 60_000);
        const keep = backupsToKeep(times, NOW);
        const again = backupsToKeep([...keep], NOW);
        deepStrictEqual([...again].sort(), [...keep].sort());
        for (const t of keep) ok(times.includes(t));
      }),
      { numRuns: 100 },
    );
  });
});
