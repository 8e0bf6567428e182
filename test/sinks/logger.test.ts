/**
 * The logger: JSON lines with the Loki labels, per-component levels, and no secret in any line —
 * fuzzed secret values placed in messages, fields named like credentials, nested objects and error
 * messages, for every kind of trading event — plus size rotation to a real file.
 */
import { deepStrictEqual, equal, ok, rejects } from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { makeLogger, secretsFromEnv } from '../../sinks/logger';
import { eventually } from '../support/eventually';
import { tempDir } from '../support/tmp';

function capture(): { lines: string[]; destination: { write: (s: string) => void } } {
  const lines: string[] = [];
  return { lines, destination: { write: (s: string) => lines.push(...s.split('\n').filter(Boolean)) } };
}

/** One of each event kind the journal and the logs carry, with a secret tucked in somewhere. */
function events(secret: string): Record<string, unknown>[] {
  return [
    { event: 'signal', symbol: 'BTC/USDT', signalId: 's1', direction: 'long', note: `from ${secret}` },
    { event: 'order-intent', clientOrderId: 'c1', signalId: 's1', qty: '0.01', apiKey: secret },
    { event: 'risk-denied', reason: 'MAX_POSITION', numbers: { secret, limit: 0.05 } },
    { event: 'order-accepted', clientOrderId: 'c1', request: { headers: { authorization: `Bearer ${secret}` } } },
    {
      event: 'order-rejected',
      clientOrderId: 'c2',
      error: new Error(`binance {"code":-2015,"msg":"Invalid API-key ${secret}"}`),
    },
    {
      event: 'fill',
      clientOrderId: 'c1',
      price: '42000.1',
      qty: '0.01',
      fee: '0.00001',
      credentials: { password: secret },
    },
    { event: 'mode-changed', from: 'Normal', to: 'Emergency', reason: `kill switch; token=${secret}` },
    {
      event: 'venue-throttled',
      retryAfterMs: 1000,
      url: `https://api.example/?signature=${secret}`,
      signature: secret,
    },
  ];
}

describe('sinks/logger', () => {
  const tmp = tempDir('bot4-logs-');
  after(() => tmp.cleanup());

  it('writes JSON lines with service, component, level and ISO time; each component at its own level', async () => {
    const out = capture();
    const log = await makeLogger({
      level: 'info',
      components: { venue: 'debug', feed: 'warn' },
      destination: out.destination,
    });
    log.component('venue').debug({ event: 'order-accepted', clientOrderId: 'c1' }, 'accepted');
    log.component('feed').info('dropped: below warn');
    log.component('feed').warn({ event: 'feed-stale', source: 'binance' }, 'stale');
    log.component('session').debug('dropped: below info');
    log.component('session').info({ event: 'session-started' }, 'started');
    const parsed = out.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    deepStrictEqual(
      parsed.map((p) => [p['component'], p['level'], p['msg']]),
      [
        ['venue', 'debug', 'accepted'],
        ['feed', 'warn', 'stale'],
        ['session', 'info', 'started'],
      ],
    );
    for (const p of parsed) {
      equal(p['service'], 'bot4');
      ok(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/.test(String(p['time'])));
    }
  });

  it('property: no secret value appears in any line, whatever the event kind and wherever the secret is', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.string({ minLength: 6, maxLength: 40 }).filter((s) => s.trim().length >= 6),
        fc.string({ minLength: 6, maxLength: 40 }).filter((s) => s.trim().length >= 6),
        async (secret, other) => {
          const out = capture();
          const log = await makeLogger({ secrets: [secret, other], destination: out.destination });
          for (const e of events(secret)) log.component('venue').info(e, `event with ${other} inside`);
          log.component('venue').error(new Error(`request failed for key ${secret}`));
          const text = out.lines.join('\n');
          for (const s of [secret, other]) {
            ok(!text.includes(s), `secret ${JSON.stringify(s)} leaked`);
            ok(!text.includes(JSON.stringify(s).slice(1, -1)), `escaped secret ${JSON.stringify(s)} leaked`);
          }
          equal(out.lines.length, events(secret).length + 1);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('censors credential-named fields even when the value is not a known secret', async () => {
    const out = capture();
    (await makeLogger({ destination: out.destination }))
      .component('venue')
      .info({ apiKey: 'unknown-key', nested: { secret: 'unknown-secret', deeper: { password: 'pw123456' } } });
    const line = out.lines[0]!;
    ok(!line.includes('unknown-key') && !line.includes('unknown-secret') && !line.includes('pw123456'), line);
    equal((line.match(/\[redacted\]/g) ?? []).length, 3);
  });

  it('takes the secrets of its environment: *_KEY, *_SECRET, *_PASSWORD, *_PASSPHRASE, *_TOKEN', () => {
    deepStrictEqual(
      secretsFromEnv({
        BOT4_API_KEY: 'k',
        BOT4_API_SECRET: 's',
        INFLUX_TOKEN: 't',
        BOT4_KEYSTORE_PASSPHRASE: 'p',
        HOME: '/root',
      }).sort(),
      ['k', 'p', 's', 't'],
    );
  });

  it('refuses an unknown level, naming the component', async () => {
    await rejects(
      makeLogger({ components: { venue: 'loud' as never } }),
      /logging level for venue: expected one of .*found "loud"/,
    );
  });

  it('rotates its file by size and keeps it private to the group (0640)', async () => {
    const file = path.join(tmp.dir, 'logs', 'bot4.log');
    const log = await makeLogger({ stdout: false, file: { path: file, size: '1k', keep: 3 } });
    const venue = log.component('venue');
    for (let i = 0; i < 200; i++) venue.info({ event: 'fill', i, pad: 'x'.repeat(40) }, 'fill');
    await log.flush();
    await eventually(() => {
      const files = readdirSync(path.dirname(file));
      ok(files.length >= 2, `rotated files: ${files.join(', ')}`);
    });
    const files = readdirSync(path.dirname(file)).map((f) => path.join(path.dirname(file), f));
    for (const f of files) equal(statSync(f).mode & 0o777, 0o640, f);
    ok(files.some((f) => readFileSync(f, 'utf8').includes('"event":"fill"')));
  });
});
