/** The CLI's progress bar: ETA from the elapsed time, drawn only on a terminal, throttled. */
import { deepStrictEqual, equal, match } from 'node:assert/strict';
import { formatDuration, formatProgress, makeProgress } from '../../pipelines/progress';

describe('progress bar with ETA', () => {
  it('extrapolates the ETA from the elapsed time over the fraction done', () => {
    equal(formatProgress('backtest', 0.25, 30_000, '', 80).includes('25.0 %  ETA 1m 30s'), true);
    match(
      formatProgress('backtest', 0.5, 2 * 3_600_000, '2021-04-01T00:00', 100),
      /50\.0 % {2}ETA 2h 00m {2}2021-04-01T00:00$/,
    );
    match(formatProgress('train', 0, 1000), /0\.0 % {2}ETA \?/);
    match(formatProgress('x', 1, 5000), /\[#+\] 100\.0 % {2}ETA 0s/);
    deepStrictEqual(
      [formatDuration(12_400), formatDuration(184_000), formatDuration(3_720_000)],
      ['12s', '3m 04s', '1h 02m'],
    );
  });

  it('writes nothing when the stream is not a terminal (pipes, logs, --json)', () => {
    const written: string[] = [];
    const progress = makeProgress({ stream: { isTTY: false, write: (t) => written.push(t) }, label: 'backtest' });
    progress.update(0.5);
    progress.done();
    deepStrictEqual(written, []);
  });

  it('on a terminal: redraws one line at most every minIntervalMs, always the last step, and clears it at the end', () => {
    const written: string[] = [];
    let now = 0;
    const progress = makeProgress({
      stream: { isTTY: true, columns: 100, write: (t) => written.push(t) },
      label: 'backtest',
      now: () => now,
      minIntervalMs: 100,
    });
    now = 10;
    progress.update(0.1);
    now = 50;
    progress.update(0.2); // throttled
    now = 120;
    progress.update(0.3);
    now = 130;
    progress.update(1); // the end is always drawn
    progress.done();
    equal(written.length, 4);
    match(written[0]!, /^\rbacktest \[.*\] {2}10\.0 % {2}ETA 0s/);
    equal(written[0]!.endsWith('\x1b[K'), true, 'clears the rest of the line');
    match(written[1]!, /30\.0 % {2}ETA 0s/);
    match(written[2]!, /100\.0 %/);
    equal(written[3], '\r\x1b[K');
  });
});
