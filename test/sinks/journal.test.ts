import { deepStrictEqual, equal, ok, rejects, throws } from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { Subject, from, lastValueFrom, type Observable } from 'rxjs';
import { toUnits } from '../../operators/money';
import {
  appendJournalRecord,
  makeJournalSink,
  serializeEvent,
  type Journaled,
  type JournalLevel,
} from '../../sinks/journal';
import { tempDir } from '../support/tmp';

/** A fused signal as the pipeline emits it, with a TA component that repeats the fused fields. */
function signal(ts: number, direction: -1 | 0 | 1, symbol = 'BTC/USDT'): Journaled & Record<string, unknown> {
  const id = `${symbol}:5m:${ts}:fused`;
  const base = { symbol, timeframe: '5m', tsEvent: ts, price: 100.5, strength: 0.5, confidence: 0.75 };
  return {
    kind: 'signal',
    id,
    source: 'fused',
    ...base,
    direction,
    available: true,
    detail: { score: direction * 0.5 },
    components: [
      {
        kind: 'signal',
        id: `${symbol}:5m:${ts}:ta`,
        source: 'ta',
        ...base,
        direction,
        available: true,
        detail: { votes: '+-0' },
      },
    ],
  };
}

function intent(ts: number, symbol = 'BTC/USDT'): Journaled & Record<string, unknown> {
  const signalId = `${symbol}:5m:${ts}:fused`;
  return {
    kind: 'intent',
    id: `${signalId}:0`,
    signalId,
    symbol,
    side: 'buy',
    qty: toUnits(0.015),
    refPrice: 100.5,
    targetQty: toUnits(0.015),
    reducesRisk: false,
    tsEvent: ts,
    reason: 'test',
  };
}

describe('journal sink (levels, serialisation)', () => {
  const tmp = tempDir();
  after(() => tmp.cleanup());
  let n = 0;

  async function write(events: readonly Journaled[], level?: JournalLevel): Promise<Record<string, unknown>[]> {
    const file = path.join(tmp.dir, `journal-${n++}.jsonl`);
    const stats = await lastValueFrom(makeJournalSink({ file, ...(level ? { level } : {}) })(from(events)));
    const text = readFileSync(file, 'utf8');
    equal(stats.bytes, Buffer.byteLength(text), 'stats count the bytes written');
    const lines = text.trim() ? text.trim().split('\n') : [];
    equal(stats.lines, lines.length, 'stats count the lines written');
    return lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  }

  it('creates journals and their folders private to the owner and group (0640/0750), whatever the umask', async () => {
    const previous = process.umask(0);
    try {
      const dir = path.join(tmp.dir, 'private', 'run');
      const file = path.join(dir, 'journal.jsonl');
      await lastValueFrom(makeJournalSink({ file })(from([{ kind: 'session', event: 'started', tsEvent: 1 }])));
      equal(statSync(file).mode & 0o777, 0o640);
      equal(statSync(dir).mode & 0o777, 0o750);
      const audit = path.join(tmp.dir, 'private', 'audit.jsonl');
      appendJournalRecord(audit, { kind: 'session', event: 'stopped', tsEvent: 2 } as Journaled);
      equal(statSync(audit).mode & 0o777, 0o640);
    } finally {
      process.umask(previous);
    }
  });

  it('level all writes every signal, with its evidence and its components', async () => {
    const events = [signal(1, 1), signal(2, 1), signal(3, 1), signal(4, 0)];
    const lines = await write(events, 'all');
    deepStrictEqual(
      lines.map((l) => l['id']),
      events.map((e) => e['id']),
    );
    deepStrictEqual(lines[0]!['detail'], { score: 0.5 });
    deepStrictEqual(lines[0]!['components'], [
      { source: 'ta', direction: 1, strength: 0.5, confidence: 0.75, available: true, detail: { votes: '+-0' } },
    ]);
  });

  it('level decisions (the default) keeps only signals that change direction, per symbol, as headlines', async () => {
    const events = [
      signal(1, 1),
      signal(1, -1, 'ETH/USDT'),
      signal(2, 1),
      signal(2, -1, 'ETH/USDT'),
      signal(3, 0),
      signal(4, 0),
      signal(5, 1),
    ];
    const lines = await write(events);
    deepStrictEqual(
      lines.map((l) => `${l['symbol']}@${l['tsEvent']}:${l['direction']}`),
      ['BTC/USDT@1:1', 'ETH/USDT@1:-1', 'BTC/USDT@3:0', 'BTC/USDT@5:1'],
    );
    deepStrictEqual(lines[0], {
      kind: 'signal',
      id: 'BTC/USDT:5m:1:fused',
      source: 'fused',
      symbol: 'BTC/USDT',
      timeframe: '5m',
      tsEvent: 1,
      price: 100.5,
      strength: 0.5,
      confidence: 0.75,
      direction: 1,
      available: true,
    });
  });

  it('level decisions writes the repeated signal that caused an order just before that order, so orders stay traceable', async () => {
    const lines = await write([signal(1, 1), signal(2, 1), intent(2), signal(3, 1)]);
    deepStrictEqual(
      lines.map((l) => `${l['kind']}@${l['tsEvent']}`),
      ['signal@1', 'signal@2', 'intent@2'],
    );
    equal(lines[2]!['signalId'], lines[1]!['id']);
    equal(lines[2]!['qty'], '0.015', 'amounts are exact decimal strings');
  });

  it('level decisions drops market-risk estimates rolled forward between refits, and keeps the refits', async () => {
    const risk = (ts: number, refit: boolean): Journaled =>
      ({ kind: 'market-risk', var: 0.05, refit, tsEvent: ts }) as Journaled;
    const events = [risk(1, true), risk(2, false), risk(3, false), risk(4, true)];
    deepStrictEqual(
      (await write(events)).map((l) => l['tsEvent']),
      [1, 4],
    );
    equal((await write(events, 'all')).length, 4);
  });

  it('keeps every event other than signals at both levels, and rejects an unknown level naming it', async () => {
    const others: Journaled[] = [
      { kind: 'mode-changed', from: 'Normal', to: 'Paused', tsEvent: 1 } as Journaled,
      intent(2),
      { kind: 'fill', clientOrderId: 'x', qty: toUnits(1), tsEvent: 3 } as Journaled,
    ];
    deepStrictEqual(await write(others), await write(others, 'all'));
    throws(
      () => makeJournalSink({ file: path.join(tmp.dir, 'x.jsonl'), level: 'some' as JournalLevel }),
      /journal level: expected one of decisions, all, found "some"/,
    );
  });

  it('the fast serialisation of a signal equals the general one (JSON.stringify with the bigint replacer)', () => {
    const s = signal(7, -1);
    const general = JSON.stringify(s, (key, value: unknown) => {
      if (typeof value === 'bigint') return String(value);
      if (key === 'components' && Array.isArray(value))
        return (value as Record<string, unknown>[]).map(
          ({ source, direction, strength, confidence, available, detail }) => ({
            source,
            direction,
            strength,
            confidence,
            available,
            detail,
          }),
        );
      return value;
    });
    equal(serializeEvent(s), general);
    // A bigint inside a signal still serialises, through the general path.
    equal(JSON.parse(serializeEvent({ ...s, detail: { edge: toUnits(2) } }))['detail']['edge'], '2');
  });

  it('an event that cannot be serialised ends the journal with an error, after writing what came before', async () => {
    const file = path.join(tmp.dir, 'cycle.jsonl');
    const cyclic: Record<string, unknown> = { kind: 'note', tsEvent: 2 };
    cyclic['self'] = cyclic;
    const events$ = new Subject<Journaled>();
    const done = lastValueFrom(makeJournalSink({ file })(events$ as Observable<Journaled>));
    events$.next(intent(1));
    events$.next(cyclic as Journaled);
    await rejects(done, /circular/i);
    ok(events$.observed === false, 'the journal unsubscribed from its input');
    equal(JSON.parse(readFileSync(file, 'utf8').trim())['kind'], 'intent');
  });
});
