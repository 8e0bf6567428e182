/**
 * `run-pipeline doctor` against real things on loopback: an SNTP server (UDP) that answers with a
 * chosen clock skew, the local Binance server for the exchange checks, rpio in mock mode (with a
 * recording wrapper for the wiring faults), a real directory for disk space.
 */
import { deepStrictEqual, equal, match, ok } from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { createSocket, type Socket } from 'node:dgram';
import { writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { initRpio, loadRpio, type RpioLike } from '../../hardware/killSwitch';
import { type CheckResult, type DoctorOptions, runDoctor } from '../../pipelines/doctor';
import { queryNtpOffset, readNtpTime, writeNtpTime } from '../../sources/ntpClock';
import { type BinanceServer, startBinanceServer } from '../support/binanceServer';
import { repoRoot } from '../support/sharedData';
import { tempDir } from '../support/tmp';
import { rpioWith } from '../support/rpio';

const rpio = loadRpio();
const CLI = path.join(repoRoot, 'dist', 'pipelines', 'cli.js');

/** An SNTP server whose clock is `skewMs` ahead of ours; `reply` can replace the answer. */
async function startNtpServer(
  skewMs: number,
  reply?: (request: Buffer) => Buffer | null,
): Promise<{ port: number; close: () => void }> {
  const socket: Socket = createSocket('udp4');
  socket.on('message', (request, from) => {
    const answer = reply
      ? reply(request)
      : (() => {
          const b = Buffer.alloc(48);
          b[0] = (4 << 3) | 4; // version 4, mode 4 (server)
          b[1] = 2; // stratum 2
          request.copy(b, 24, 40, 48); // originate = the client's transmit time
          writeNtpTime(b, 32, Date.now() + skewMs);
          writeNtpTime(b, 40, Date.now() + skewMs);
          return b;
        })();
    if (answer) socket.send(answer, from.port, from.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return { port: (socket.address() as AddressInfo).port, close: () => socket.close() };
}

/** rpio in mock mode, with a button level and LED pins that can be made to fail. */
function wiredRpio(button: 'released' | 'pressed', deadLed?: number): RpioLike {
  return rpioWith({
    read: (pin) => (pin === 17 ? (button === 'released' ? rpio.HIGH : rpio.LOW) : rpio.read(pin)),
    write: (pin, value) => rpio.write(pin, pin === deadLed ? rpio.LOW : value),
  });
}

const row = (results: readonly CheckResult[], check: string): CheckResult => {
  const r = results.find((x) => x.check === check);
  ok(r, `no "${check}" row in ${JSON.stringify(results)}`);
  return r;
};

describe('run-pipeline doctor', function () {
  this.timeout(60_000);
  const tmp = tempDir('bot4-doctor-');
  let server: BinanceServer;
  let ntp: { port: number; close: () => void };
  const fakeGpiomem = path.join(tmp.dir, 'gpiomem');

  before(async () => {
    initRpio(rpio, 'raspi-3');
    writeFileSync(fakeGpiomem, '');
    server = await startBinanceServer();
    ntp = await startNtpServer(0);
  });
  after(async () => {
    ntp.close();
    await server.close();
    tmp.cleanup();
  });

  const base = (extra: Partial<DoctorOptions> = {}): DoctorOptions => ({
    config: path.join(repoRoot, 'config', 'growth.yaml'),
    out: path.join(tmp.dir, 'out'),
    minFreeMb: 1,
    apiUrl: server.url,
    ntpServer: `127.0.0.1:${ntp.port}`,
    timeoutMs: 2000,
    yes: true,
    gpiomemPath: path.join(tmp.dir, 'no-such-gpiomem'),
    rpio: wiredRpio('released'),
    log: () => undefined,
    ...extra,
  });

  it('passes on a healthy machine: config, wiring, clock, disk, exchange and symbol (mock GPIO said out loud)', async () => {
    const results = await runDoctor(base());
    deepStrictEqual(
      results.map((r) => [r.check, r.status]),
      [
        ['config', 'pass'],
        ['gpio', 'warn'],
        ['kill switch button', 'skip'],
        ['status LEDs', 'warn'],
        ['clock (NTP)', 'pass'],
        ['disk space', 'pass'],
        ['API keys', 'skip'],
        ['exchange', 'pass'],
        ['symbol', 'pass'],
      ],
    );
    match(row(results, 'gpio').detail, /not found: not a Raspberry Pi .* mock mode/);
  });

  it('on real GPIO: a pressed (or shorted) button fails, a released one passes', async () => {
    const pressed = await runDoctor(base({ gpiomemPath: fakeGpiomem, rpio: wiredRpio('pressed') }));
    equal(row(pressed, 'gpio').status, 'pass');
    equal(row(pressed, 'kill switch button').status, 'fail');
    match(row(pressed, 'kill switch button').detail, /reads LOW.*start in Emergency/);
    const released = await runDoctor(base({ gpiomemPath: fakeGpiomem, rpio: wiredRpio('released') }));
    equal(row(released, 'kill switch button').status, 'pass');
    equal(row(released, 'status LEDs').status, 'pass');
  });

  it('fails the LED self-test for a pin that is not driven, and for an LED the person does not see', async () => {
    const dead = await runDoctor(base({ gpiomemPath: fakeGpiomem, rpio: wiredRpio('released', 23) }));
    equal(row(dead, 'status LEDs').status, 'fail');
    match(row(dead, 'status LEDs').detail, /yellow BCM23 NOT driven/);
    const asked: string[] = [];
    const unseen = await runDoctor(
      base({
        gpiomemPath: fakeGpiomem,
        yes: false,
        ask: async (q) => {
          asked.push(q);
          return !q.includes('red');
        },
      }),
    );
    equal(asked.length, 3);
    equal(row(unseen, 'status LEDs').status, 'fail');
    match(row(unseen, 'status LEDs').detail, /red BCM24 driven, not seen/);
  });

  it('fails a clock more than the limit off NTP, a server that does not answer, and a reply that is not an answer', async () => {
    const skewed = await startNtpServer(4000);
    const silent = await startNtpServer(0, () => null);
    const garbage = await startNtpServer(0, () => Buffer.from('not ntp'));
    try {
      const r1 = await runDoctor(base({ ntpServer: `127.0.0.1:${skewed.port}` }));
      equal(row(r1, 'clock (NTP)').status, 'fail');
      match(row(r1, 'clock (NTP)').detail, /offset (39\d\d|4\d{3})\.\d ms .*limit ±1000 ms.*enable NTP/);
      const r2 = await runDoctor(base({ ntpServer: `127.0.0.1:${silent.port}`, timeoutMs: 300 }));
      match(row(r2, 'clock (NTP)').detail, /no reply within 300 ms/);
      const r3 = await runDoctor(base({ ntpServer: `127.0.0.1:${garbage.port}` }));
      match(row(r3, 'clock (NTP)').detail, /reply of 7 bytes, expected 48/);
    } finally {
      for (const s of [skewed, silent, garbage]) s.close();
    }
  });

  it('SNTP arithmetic: timestamps round-trip and the offset is measured against the local clock', async () => {
    const b = Buffer.alloc(8);
    writeNtpTime(b, 0, 1_700_000_000_123);
    ok(Math.abs(readNtpTime(b, 0) - 1_700_000_000_123) < 0.001);
    const r = await queryNtpOffset({ host: '127.0.0.1', port: ntp.port, now: () => Date.now() - 2500 });
    ok(Math.abs(r.offsetMs - 2500) < 200, `offset ${r.offsetMs}`);
  });

  it('live needs the API keys (never printed); not enough disk fails; an unreachable exchange fails', async () => {
    const secret = 'sEcReT-value-123';
    const noKeys = await runDoctor(base({ mode: 'live', env: {} }));
    equal(row(noKeys, 'API keys').status, 'fail');
    match(row(noKeys, 'API keys').detail, /missing BOT4_API_KEY, BOT4_API_SECRET/);
    const keys = await runDoctor(base({ mode: 'live', env: { BOT4_API_KEY: 'k-abc', BOT4_API_SECRET: secret } }));
    equal(row(keys, 'API keys').status, 'pass');
    ok(!JSON.stringify(keys).includes(secret) && !JSON.stringify(keys).includes('k-abc'));
    const disk = await runDoctor(base({ minFreeMb: 1e12 }));
    equal(row(disk, 'disk space').status, 'fail');
    const down = await runDoctor(base({ apiUrl: 'http://127.0.0.1:9', timeoutMs: 1000 }));
    equal(row(down, 'exchange').status, 'fail');
    match(row(down, 'exchange').detail, /binance at http:\/\/127\.0\.0\.1:9 not reachable/);
  });

  it('a broken config fails with its file and key; a symbol the exchange does not list fails', async () => {
    const broken = path.join(tmp.dir, 'broken.yaml');
    writeFileSync(broken, 'name: x\ntier: nonsense\n');
    const r = await runDoctor(base({ config: broken }));
    equal(row(r, 'config').status, 'fail');
    match(row(r, 'config').detail, /broken\.yaml/);
    const other = await startBinanceServer({ symbols: [] });
    try {
      const unlisted = await runDoctor(base({ apiUrl: other.url }));
      equal(row(unlisted, 'symbol').status, 'fail');
      match(row(unlisted, 'symbol').detail, /BTC\/USDT is not listed on binance/);
    } finally {
      await other.close();
    }
  });

  it('the CLI prints the table (or --json) and exits 1 when a check fails, 0 when none does', async () => {
    // Asynchronously: the servers answering it live in this process.
    const cli = async (argv: string[], env: NodeJS.ProcessEnv = process.env) => {
      try {
        const { stdout, stderr } = await promisify(execFile)(process.execPath, argv, {
          cwd: repoRoot,
          env,
          timeout: 60_000,
        });
        return { status: 0, stdout, stderr };
      } catch (err) {
        const e = err as { code: number; stdout: string; stderr: string };
        return { status: e.code, stdout: e.stdout, stderr: e.stderr };
      }
    };
    const args = [
      CLI,
      'doctor',
      '--config',
      'config/growth.yaml',
      '--out',
      path.join(tmp.dir, 'out'),
      '--min-free-mb',
      '1',
      '--api-url',
      server.url,
      '--ntp-server',
      `127.0.0.1:${ntp.port}`,
      '--yes',
      '--gpio-mock',
      'raspi-3',
    ];
    const good = await cli(args);
    equal(good.status, 0, good.stdout + good.stderr);
    match(good.stdout, /PASS {2}exchange/);
    match(good.stdout, /^ready \(\d warning\(s\)\)\.$/m);
    const bad = await cli([...args, '--mode', 'live', '--json'], {
      ...process.env,
      BOT4_API_KEY: '',
      BOT4_API_SECRET: '',
    });
    equal(bad.status, 1, bad.stderr);
    const parsed = JSON.parse(bad.stdout) as { ok: boolean; results: CheckResult[] };
    equal(parsed.ok, false);
    equal(row(parsed.results, 'API keys').status, 'fail');
    const usage = spawnSync(process.execPath, [CLI, 'doctor', '--mode', 'nonsense'], {
      cwd: repoRoot,
      encoding: 'utf8',
    });
    equal(usage.status, 1);
    match(usage.stderr, /--mode: expected paper or live, found "nonsense"/);
  });
});
