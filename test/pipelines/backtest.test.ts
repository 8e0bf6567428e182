import { deepStrictEqual, equal, notDeepStrictEqual, ok } from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { backtestBars } from '../../pipelines/backtest';
import { loadConfig } from '../../pipelines/config';
import { loadModelFor } from '../../pipelines/model';
import { trainModel } from '../../pipelines/train';
import { saveModel } from '../../pipelines/model';
import type { Bar } from '../../operators/types';
import { randomWalkBars } from '../support/fixtures';
import { writeTestGrowthConfig } from '../support/growthConfig';
import { tempDir } from '../support/tmp';

interface JournalLine {
  kind: string;
  tsEvent: number;
  [key: string]: unknown;
}

function readJournal(file: string): JournalLine[] {
  return readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as JournalLine);
}

describe('backtest pipeline (Growth config, generated bars, virtual time)', function () {
  this.timeout(120_000);
  const tmp = tempDir();
  const bars = randomWalkBars(4000, { seed: 7 });
  let configFile: string;

  before(async () => {
    configFile = writeTestGrowthConfig(tmp.dir);
    const config = loadConfig(configFile);
    const model = await trainModel(config, bars.slice(0, 1500), { dataFile: 'generated', dataSha256: '0' });
    saveModel(config.modelPath!, model);
  });
  after(() => tmp.cleanup());

  async function run(
    input: readonly Bar[],
    name: string,
    killAt?: number,
    journalLevel?: 'decisions' | 'all',
  ): Promise<{ journal: JournalLine[]; text: string; report: Awaited<ReturnType<typeof backtestBars>>['report'] }> {
    const config = loadConfig(configFile);
    const result = await backtestBars(config, input, {
      dataFile: 'generated.csv',
      outDir: path.join(tmp.dir, name),
      model: loadModelFor(config),
      ...(killAt !== undefined ? { killAt } : {}),
      ...(journalLevel !== undefined ? { journalLevel } : {}),
    });
    const text = readFileSync(result.journalFile, 'utf8');
    return { journal: readJournal(result.journalFile), text, report: result.report };
  }

  it('trades: the journal holds signals, intents, approvals, orders accepted and fills', async () => {
    const { journal, report } = await run(bars, 'smoke');
    const kinds = new Set(journal.map((e) => e.kind));
    for (const kind of ['run-started', 'signal', 'intent', 'approved', 'order-accepted', 'fill'])
      ok(kinds.has(kind), `journal has no ${kind}`);
    ok(report.trades > 0, 'no trade in 4,000 bars');
    equal(report.bars, 4000);
    const every = await run(bars, 'smoke-all', undefined, 'all');
    const allSignals = every.journal.filter((e) => e.kind === 'signal');
    equal(allSignals.length, 4000, 'level all: one fused signal per bar');
    // The default level keeps the signals that changed direction and those that caused an order.
    const ordered = new Set(journal.filter((e) => e.kind === 'intent').map((e) => e['signalId']));
    const expected = allSignals
      .filter((e, i) => i === 0 || e['direction'] !== allSignals[i - 1]!['direction'] || ordered.has(e['id']))
      .map((e) => e['id']);
    const kept = journal.filter((e) => e.kind === 'signal');
    deepStrictEqual(
      kept.map((e) => e['id']),
      expected,
    );
    ok(kept.length < 4000 / 2, `decisions level kept ${kept.length} of 4000 signals`);
    // Every other event is journaled at both levels, but for the market-risk estimates rolled
    // forward between refits (one per bar), kept at level all only.
    const rolled = (e: JournalLine): boolean => e.kind === 'market-risk' && e['refit'] === false;
    ok(every.journal.some(rolled) && !journal.some(rolled));
    deepStrictEqual(
      journal.filter((e) => e.kind !== 'signal'),
      every.journal.filter((e) => e.kind !== 'signal' && !rolled(e)),
      'every other event is journaled at both levels',
    );
  });

  it('produces byte-identical journals and equal reports when run twice on the same data and config', async () => {
    const first = await run(bars, 'determinism-1');
    const second = await run(bars, 'determinism-2');
    ok(first.text.length > 0);
    equal(second.text, first.text);
    deepStrictEqual({ ...second.report, journal: null }, { ...first.report, journal: null });
  });

  it('never lets a change to bar N+1 (and later) alter any decision at or before bar N', async () => {
    const baseline = await run(bars, 'lookahead-base');
    const decisions = (journal: JournalLine[], until: number): JournalLine[] =>
      journal.filter((e) => ['signal', 'intent', 'approved', 'denied'].includes(e.kind) && e.tsEvent <= until);
    // Cut points spread over the run, including ones right where the baseline traded.
    const fillTimes = baseline.journal.filter((e) => e.kind === 'intent').map((e) => e.tsEvent);
    const cuts = [500, 1600, 2500, 3900].map((i) => bars[i]!.tsEvent).concat(fillTimes.slice(0, 3));
    for (const cut of cuts) {
      const n = bars.findIndex((b) => b.tsEvent === cut);
      // A violent future: +30 % from bar N+1 on, with a wide range.
      const perturbed = bars.map((b, i) =>
        i <= n
          ? b
          : {
              ...b,
              open: b.open * 1.3,
              high: b.high * 1.4,
              low: b.low * 1.2,
              close: b.close * 1.3,
              volume: b.volume * 5,
            },
      );
      const changed = await run(perturbed, `lookahead-${n}`);
      deepStrictEqual(
        decisions(changed.journal, cut),
        decisions(baseline.journal, cut),
        `a decision at or before bar ${n} changed`,
      );
      notDeepStrictEqual(
        changed.journal.filter((e) => e.tsEvent > cut + 300_000 && e.kind === 'signal'),
        baseline.journal.filter((e) => e.tsEvent > cut + 300_000 && e.kind === 'signal'),
        'the perturbation must be visible after the cut, or the test proves nothing',
      );
    }
  });

  it('fills every market order at a later bar’s open, and a resting exit never at or before it was placed', async () => {
    const { journal } = await run(bars, 'fill-times');
    const approvals = new Map(
      journal
        .filter((e) => e.kind === 'approved')
        .map((e) => {
          const order = e['order'] as { clientOrderId: string; type: string };
          return [order.clientOrderId, { at: e.tsEvent, type: order.type }];
        }),
    );
    const opens = new Map(bars.map((b) => [b.tsOpen, b.open]));
    const fills = journal.filter((e) => e.kind === 'fill');
    ok(fills.length > 0);
    for (const fill of fills) {
      const approval = approvals.get(fill['clientOrderId'] as string);
      ok(approval !== undefined, 'fill without an approved order');
      const decided = approval.at;
      ok(fill.tsEvent >= decided, `filled at ${fill.tsEvent}, decided at ${decided}`);
      // The bracket's stop and take-profit rest and trigger inside a bar (test/pipelines/restingBrackets.test.ts).
      if (approval.type !== 'market') continue;
      ok(opens.has(fill.tsEvent), 'fill time is a bar open');
      const open = opens.get(fill.tsEvent)!;
      const price = Number(fill['price']);
      ok(
        Math.abs(price / open - 1) <= 0.0002 + 1e-9,
        `fill price ${price} vs open ${open}: only the configured 2 bps slippage`,
      );
    }
  });

  it('traces every fill to an order, an approval, an intent and the signal that caused it, with fees charged', async () => {
    const { journal, report } = await run(bars, 'trace');
    const signals = new Set(journal.filter((e) => e.kind === 'signal').map((e) => e['id']));
    const intents = new Set(journal.filter((e) => e.kind === 'intent').map((e) => e['signalId']));
    const orders = new Map(
      journal
        .filter((e) => e.kind === 'approved')
        .map((e) => [
          (e['order'] as { clientOrderId: string }).clientOrderId,
          e['order'] as { signalId: string; configHash: string },
        ]),
    );
    for (const fill of journal.filter((e) => e.kind === 'fill')) {
      const order = orders.get(fill['clientOrderId'] as string);
      ok(order, `fill ${String(fill['clientOrderId'])} has no approved order`);
      equal(order.signalId, fill['signalId']);
      equal(order.configHash, report.config.hash);
      ok(intents.has(order.signalId) && signals.has(order.signalId), `signal ${order.signalId} not journaled`);
      ok(Number(fill['fee']) > 0, 'a fill without a fee');
    }
  });

  it('ends flat after a kill-switch press mid-run, with no order after the press but cancels and flattening', async () => {
    const baseline = await run(bars, 'kill-baseline');
    // Press while a position is open: two bars after a buy filled.
    const buyFill = baseline.journal.find(
      (e) => e.kind === 'fill' && e['side'] === 'buy' && e.tsEvent > bars[2000]!.tsEvent,
    );
    ok(buyFill, 'the baseline never bought after bar 2000');
    const pressAt = buyFill.tsEvent + 2 * 300_000 + 1;
    const { journal, report } = await run(bars, 'kill-drill', pressAt);

    const change = journal.find((e) => e.kind === 'mode-changed');
    ok(change, 'no mode change journaled');
    equal(change['to'], 'Emergency');
    equal(change.tsEvent, pressAt);
    ok(
      journal.some((e) => e.kind === 'cancel-all' && e.tsEvent === pressAt),
      'no cancel-all at the press',
    );
    const flattening = journal.filter((e) => e.kind === 'order' && String(e['signalId']).startsWith('emergency:'));
    ok(flattening.length >= 1, 'no flattening order');
    ok(flattening.every((o) => o['reducesRisk'] === true && o['side'] === 'sell'));

    // After the press: nothing reaches the venue but the flattening orders.
    const flattenIds = new Set(flattening.map((o) => o['clientOrderId']));
    const accepted = journal.filter((e) => e.kind === 'order-accepted' && e.tsEvent >= pressAt);
    ok(accepted.length >= 1);
    for (const a of accepted)
      ok(flattenIds.has(a['clientOrderId']), `order ${String(a['clientOrderId'])} accepted after the press`);
    const fills = journal.filter((e) => e.kind === 'fill' && e.tsEvent >= pressAt);
    for (const f of fills)
      ok(flattenIds.has(f['clientOrderId']) && f['side'] === 'sell', 'a non-flattening fill after the press');
    // New risk is refused by the gate (mode Emergency) rather than silently lost.
    ok(journal.some((e) => e.kind === 'denied' && e['code'] === 'MODE_EMERGENCY' && e.tsEvent > pressAt));
    deepStrictEqual(report.finalPositions, {});
    equal(report.mode.final, 'Emergency');
  });

  it('stops an order decided in the same instant as the press: it never reaches the venue', async () => {
    const baseline = await run(bars, 'same-frame-baseline');
    const approval = baseline.journal.find(
      (e) =>
        e.kind === 'approved' && (e['order'] as { side: string }).side === 'buy' && e.tsEvent > bars[2500]!.tsEvent,
    );
    ok(approval, 'no buy approval to race against');
    const { journal } = await run(bars, 'same-frame-drill', approval.tsEvent);
    const clientOrderId = (approval['order'] as { clientOrderId: string }).clientOrderId;
    ok(
      !journal.some((e) => (e.kind === 'order-accepted' || e.kind === 'fill') && e['clientOrderId'] === clientOrderId),
      'the racing order reached the venue',
    );
    ok(
      !journal.some(
        (e) =>
          e.kind === 'order-accepted' &&
          e.tsEvent >= approval.tsEvent &&
          !String(e['signalId']).startsWith('emergency:'),
      ),
    );
  });
});
