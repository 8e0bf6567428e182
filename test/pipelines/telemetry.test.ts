/**
 * Logs and traces wired into a run (`pipelines/telemetry.ts`): a real backtest with the config's
 * `monitoring.logs` and `monitoring.traces` on writes one JSON line per trading event to a rotated
 * file (0640, secrets scrubbed), exports one trace per signal over OTLP/HTTP to a local endpoint
 * with the real exporter, and journals the trace id on every intent. Generated bars: mechanics only.
 */
import { deepStrictEqual, equal, ok } from 'node:assert/strict';
import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { backtestBars } from '../../pipelines/backtest';
import { loadConfig } from '../../pipelines/config';
import { logFieldsOf, logPlaceOf } from '../../pipelines/telemetry';
import { toUnits } from '../../operators/money';
import { traceIdOf } from '../../sinks/orderTraces';
import { eventually } from '../support/eventually';
import { randomWalkBars } from '../support/fixtures';
import { type JaegerServer, startJaeger } from '../support/jaegerServer';
import { tempDir } from '../support/tmp';
import { taSessionConfig } from '../support/sessionConfig';

const config = (monitoring: string): string =>
  taSessionConfig('telemetry-test', { onFlat: 'close', extra: monitoring });

type Rec = { kind: string; [k: string]: unknown };
type Otlp = {
  resourceSpans: { scopeSpans: { spans: { traceId: string; name: string; attributes: { key: string }[] }[] }[] }[];
};

describe('telemetry: structured logs and order-flow traces of a run', function () {
  this.timeout(120_000);
  const tmp = tempDir();
  after(() => tmp.cleanup());
  const bars = randomWalkBars(1500, { seed: 11 });

  it('a backtest logs every trading event as JSON, exports a trace per signal over OTLP/HTTP, and journals the trace id', async () => {
    const bodies: Otlp[] = [];
    const server: Server = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => {
        body += d.toString();
      });
      req.on('end', () => {
        bodies.push(JSON.parse(body) as Otlp);
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{}');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const secret = 'sk-test-7f3a9c2e1b';
    process.env['BOT4_TEST_TELEMETRY_SECRET'] = secret;
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/traces`;
      const logFile = path.join(tmp.dir, 'logs', 'bot4.log');
      const file = path.join(tmp.dir, 'telemetry.yaml');
      writeFileSync(
        file,
        config(`monitoring:
  logs: { enabled: true, stdout: false, file: { path: ${JSON.stringify(logFile)} }, components: { feed: silent } }
  traces: { enabled: true, url: ${JSON.stringify(url)} }`),
      );
      const result = await backtestBars(loadConfig(file), bars, {
        dataFile: 'generated.csv',
        outDir: path.join(tmp.dir, 'run'),
      });
      const journal = readFileSync(result.journalFile, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Rec);
      const intents = journal.filter((r) => r.kind === 'intent');
      const fills = journal.filter((r) => r.kind === 'fill');
      ok(fills.length >= 4, `only ${fills.length} fills: too few to check`);
      // The journal names the trace of every intent.
      for (const i of intents) equal(i['traceId'], traceIdOf(i['signalId'] as string));

      // Spans: one trace per signal that made an intent, with a fill span per journaled fill.
      const spans = bodies.flatMap((b) => b.resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans)));
      const traced = new Set(
        spans.map((s) => Buffer.from(s.traceId, /^[0-9a-f]+$/.test(s.traceId) ? 'hex' : 'base64').toString('hex')),
      );
      deepStrictEqual(traced, new Set(intents.map((i) => i['traceId'] as string)));
      equal(spans.filter((s) => s.name === 'fill').length, fills.length);

      // Logs: the rotated file is 0640 and holds a JSON line per fill, with ids and decimal amounts.
      const logs = readdirSync(path.dirname(logFile)).map((f) => path.join(path.dirname(logFile), f));
      ok(logs.length >= 1);
      equal(statSync(logs[0]!).mode & 0o007, 0, 'the log file is not world-readable');
      const lines = logs.flatMap((f) => readFileSync(f, 'utf8').trim().split('\n')).map((l) => JSON.parse(l) as Rec);
      const loggedFills = lines.filter((l) => l['event'] === 'fill');
      equal(loggedFills.length, fills.length);
      const first = loggedFills[0]!;
      equal(first['component'], 'fills');
      equal(first['service'], 'bot4');
      equal(first['run'], 'backtest');
      equal(first['clientOrderId'], fills[0]!['clientOrderId']);
      equal(first['traceId'], traceIdOf(fills[0]!['signalId'] as string));
      equal(first['qty'], fills[0]!['qty']);
      ok(lines.some((l) => l['event'] === 'approved' && l['component'] === 'risk'));
      ok(!lines.some((l) => l['component'] === 'feed'), 'a silenced component logged');
      ok(!readFileSync(logs[0]!, 'utf8').includes(secret));
    } finally {
      delete process.env['BOT4_TEST_TELEMETRY_SECRET'];
      server.close();
    }
  });

  describe('into a real Jaeger (v2 all-in-one, built by scripts/jaeger.sh)', function () {
    this.timeout(900_000); // a cold Go cache builds Jaeger first
    let jaeger: JaegerServer;
    before(async () => {
      jaeger = await startJaeger(path.join(tmp.dir, 'jaeger'));
    });
    after(async () => {
      await jaeger?.stop();
    });

    it('every order flow of a backtest is stored as one trace per signal: signal → size → risk → submit → fill, with its ids', async () => {
      const file = path.join(tmp.dir, 'jaeger.yaml');
      writeFileSync(file, config(`monitoring:\n  traces: { enabled: true, url: ${JSON.stringify(jaeger.otlpUrl)} }`));
      const result = await backtestBars(loadConfig(file), bars.slice(0, 800), {
        dataFile: 'generated.csv',
        outDir: path.join(tmp.dir, 'jaeger-run'),
      });
      const journal = readFileSync(result.journalFile, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Rec);
      const filled = journal.filter((r) => r.kind === 'fill').slice(0, 3);
      ok(filled.length > 0, 'no fill to trace');
      for (const fill of filled) {
        const traceId = traceIdOf(fill['signalId'] as string);
        const intent = journal.find((r) => r.kind === 'intent' && r['signalId'] === fill['signalId'])!;
        equal(intent['traceId'], traceId, 'the journal names the trace');
        const spans = await eventually(
          async () => {
            const found = await jaeger.trace(traceId);
            ok(
              found.some((sp) => sp.operationName === 'fill'),
              `trace ${traceId}: ${found.length} spans, no fill yet`,
            );
            return found;
          },
          { timeoutMs: 30_000, intervalMs: 200 },
        );
        const names = new Set(spans.map((sp) => sp.operationName));
        for (const name of ['signal', 'size', 'risk', 'submit', 'fill'])
          ok(names.has(name), `no ${name} span in ${[...names]}`);
        const tags = spans.flatMap((sp) => sp.tags);
        ok(tags.some((t) => t.key === 'bot4.signal_id' && t.value === fill['signalId']));
        ok(tags.some((t) => t.key === 'bot4.client_order_id' && t.value === fill['clientOrderId']));
      }
    });
  });

  it('with logs and traces off the run is untouched: the journal is byte-identical and carries no trace id', async () => {
    const off = path.join(tmp.dir, 'off.yaml');
    writeFileSync(off, config(''));
    const a = await backtestBars(loadConfig(off), bars, {
      dataFile: 'generated.csv',
      outDir: path.join(tmp.dir, 'off-a'),
    });
    const text = readFileSync(a.journalFile, 'utf8');
    ok(!text.includes('traceId'));
    const b = await backtestBars(loadConfig(off), bars, {
      dataFile: 'generated.csv',
      outDir: path.join(tmp.dir, 'off-b'),
    });
    equal(readFileSync(b.journalFile, 'utf8'), text);
  });

  it('the event schema: ids, symbol and decimal amounts, in the component of the event kind', () => {
    const fields = logFieldsOf({
      kind: 'fill',
      clientOrderId: 'b4-1',
      signalId: 'BTC/USDT:5m:1:fused',
      symbol: 'BTC/USDT',
      side: 'buy',
      qty: toUnits('0.01'),
      price: toUnits('20000'),
      fee: toUnits('0.2'),
      tsEvent: 1,
    } as { kind: string });
    deepStrictEqual(fields, {
      event: 'fill',
      symbol: 'BTC/USDT',
      signalId: 'BTC/USDT:5m:1:fused',
      traceId: traceIdOf('BTC/USDT:5m:1:fused'),
      clientOrderId: 'b4-1',
      side: 'buy',
      qty: '0.01',
      price: '20000',
      fee: '0.2',
      tsEvent: 1,
    });
    deepStrictEqual(logPlaceOf('order-rejected'), { component: 'orders', level: 'warn' });
    equal(logPlaceOf('bar'), undefined);
    equal(logPlaceOf('feed-healthy'), undefined);
  });
});
