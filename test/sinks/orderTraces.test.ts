/**
 * Order-flow traces: spans read back from the SDK's in-memory exporter, and over OTLP/HTTP from a
 * real exporter into a local HTTP server that speaks the OTLP JSON protocol.
 */
import { deepStrictEqual, equal, ok } from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';

/** The SDK's in-memory exporter, kept readable after the sink shuts the provider down. */
class KeepingExporter extends InMemorySpanExporter {
  override shutdown(): Promise<void> {
    return Promise.resolve();
  }
}
import { from, lastValueFrom, throwError, concat } from 'rxjs';
import { makeOrderTraceSink, traceIdOf, type TracedEvent } from '../../sinks/orderTraces';
import type { Order } from '../../operators/types';

const T0 = Date.UTC(2021, 4, 10, 12, 0);
const SIG = 'BTC/USDT:5m:1620648000000:fused';
const SIG2 = 'BTC/USDT:5m:1620648300000:fused';

const order: Order = {
  kind: 'order',
  clientOrderId: 'g-abc-1',
  intentId: `${SIG}:1`,
  signalId: SIG,
  symbol: 'BTC/USDT',
  side: 'buy',
  type: 'market',
  qty: 1_000_000n,
  refPrice: 56000,
  reducesRisk: false,
  configHash: 'cfg',
  tsEvent: T0,
} as unknown as Order;

function flow(): TracedEvent[] {
  return [
    {
      kind: 'intent',
      id: `${SIG}:1`,
      signalId: SIG,
      symbol: 'BTC/USDT',
      side: 'buy',
      qty: 1_000_000n,
      refPrice: 56000,
      targetQty: 1_000_000n,
      reducesRisk: false,
      tsEvent: T0,
      reason: 'long',
    },
    { kind: 'approved', order, numbers: {}, tsEvent: T0 + 1 },
    { kind: 'order-accepted', clientOrderId: 'g-abc-1', signalId: SIG, tsEvent: T0 + 40 },
    {
      kind: 'fill',
      clientOrderId: 'g-abc-1',
      signalId: SIG,
      symbol: 'BTC/USDT',
      side: 'buy',
      qty: 400_000n,
      price: 5_600_000_000_000n,
      notional: 22_400_000_000n,
      fee: 22_400_000n,
      liquidity: 'taker',
      leavesQty: 600_000n,
      tsEvent: T0 + 300_000,
    },
    {
      kind: 'fill',
      clientOrderId: 'g-abc-1',
      signalId: SIG,
      symbol: 'BTC/USDT',
      side: 'buy',
      qty: 600_000n,
      price: 5_600_100_000_000n,
      notional: 33_600_600_000n,
      fee: 33_600_600n,
      liquidity: 'taker',
      leavesQty: 0n,
      tsEvent: T0 + 300_010,
    },
    {
      kind: 'intent',
      id: `${SIG2}:1`,
      signalId: SIG2,
      symbol: 'BTC/USDT',
      side: 'buy',
      qty: 9_000_000n,
      refPrice: 56100,
      targetQty: 10_000_000n,
      reducesRisk: false,
      tsEvent: T0 + 300_000,
      reason: 'add',
    },
    {
      kind: 'denied',
      intent: {
        kind: 'intent',
        id: `${SIG2}:1`,
        signalId: SIG2,
        symbol: 'BTC/USDT',
        side: 'buy',
        qty: 9_000_000n,
        refPrice: 56100,
        targetQty: 10_000_000n,
        reducesRisk: false,
        tsEvent: T0 + 300_000,
        reason: 'add',
      },
      code: 'POSITION_EXCEEDS_LIMIT',
      message: 'POSITION_EXCEEDS_LIMIT: share=0.12 limit=0.05',
      numbers: {},
      tsEvent: T0 + 300_000,
    },
  ] as unknown as TracedEvent[];
}

const ms = (t: [number, number]): number => t[0] * 1000 + t[1] / 1e6;

describe('sinks/orderTraces', () => {
  it('one trace per signal, spans per stage with the signal and client order ids, in event time', async () => {
    const exporter = new KeepingExporter();
    await lastValueFrom(from(flow()).pipe(makeOrderTraceSink({ exporter, batch: false })), { defaultValue: undefined });
    const spans = exporter.getFinishedSpans();
    const of = (traceId: string): ReadableSpan[] => spans.filter((s) => s.spanContext().traceId === traceId);
    const first = of(traceIdOf(SIG));
    deepStrictEqual(first.map((s) => s.name).sort(), ['fill', 'fill', 'risk', 'signal', 'size', 'submit']);
    const root = first.find((s) => s.name === 'signal')!;
    for (const s of first) if (s !== root) equal(s.parentSpanContext?.spanId, root.spanContext().spanId, s.name);
    equal(root.attributes['bot4.signal_id'], SIG);
    equal(ms(root.startTime), T0);
    equal(ms(root.endTime), T0 + 300_010, 'the trace ends with the fill that completes the order');
    const submit = first.find((s) => s.name === 'submit')!;
    equal(submit.attributes['bot4.client_order_id'], 'g-abc-1');
    equal(ms(submit.endTime) - ms(submit.startTime), 39, 'submission → acknowledgement latency');
    deepStrictEqual(
      first.filter((s) => s.name === 'fill').map((s) => [s.attributes['bot4.qty'], s.attributes['bot4.price']]),
      [
        ['0.004', '56000'],
        ['0.006', '56001'],
      ],
    );
    const second = of(traceIdOf(SIG2));
    deepStrictEqual(second.map((s) => s.name).sort(), ['risk', 'signal', 'size']);
    const risk = second.find((s) => s.name === 'risk')!;
    equal(risk.attributes['bot4.deny_code'], 'POSITION_EXCEEDS_LIMIT');
    equal(risk.status.message, 'POSITION_EXCEEDS_LIMIT: share=0.12 limit=0.05');
  });

  it('the trace id is the same in every run and process for the same signal', () => {
    equal(traceIdOf(SIG), traceIdOf(SIG));
    ok(/^[0-9a-f]{32}$/.test(traceIdOf(SIG)));
    ok(traceIdOf(SIG) !== traceIdOf(SIG2));
  });

  it('ends what is still open when the stream ends (marked), and passes a stream error on after flushing', async () => {
    const exporter = new KeepingExporter();
    await lastValueFrom(from(flow().slice(0, 3)).pipe(makeOrderTraceSink({ exporter, batch: false })), {
      defaultValue: undefined,
    });
    const root = exporter.getFinishedSpans().find((s) => s.name === 'signal')!;
    equal(root.attributes['bot4.open_at_end'], true);
    const failing = concat(
      from(flow().slice(0, 1)),
      throwError(() => new Error('feed broke')),
    );
    let error: unknown;
    try {
      await lastValueFrom(failing.pipe(makeOrderTraceSink({ exporter: new InMemorySpanExporter(), batch: false })), {
        defaultValue: undefined,
      });
    } catch (err) {
      error = err;
    }
    equal((error as Error).message, 'feed broke');
  });

  it('exports over OTLP/HTTP: a local collector endpoint receives every span with its trace id', async () => {
    const bodies: unknown[] = [];
    const server: Server = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => {
        body += d.toString();
      });
      req.on('end', () => {
        equal(req.url, '/v1/traces');
        bodies.push(JSON.parse(body));
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{}');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/traces`;
      await lastValueFrom(from(flow()).pipe(makeOrderTraceSink({ exporter: new OTLPTraceExporter({ url }) })), {
        defaultValue: undefined,
      });
      type Otlp = { resourceSpans: { scopeSpans: { spans: { traceId: string; name: string }[] }[] }[] };
      const spans = (bodies as Otlp[]).flatMap((b) =>
        b.resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans)),
      );
      equal(spans.length, 9);
      deepStrictEqual(new Set(spans.map((s) => s.traceId)), new Set([traceIdOf(SIG), traceIdOf(SIG2)]));
    } finally {
      server.close();
    }
  });
});
