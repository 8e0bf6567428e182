/**
 * `npm run bench:peers`: bot4 next to other backtesters, same machine, same data, same strategy
 * (long while SMA20 > SMA50, flat otherwise; 95 % of equity; fill at the next bar's open; 0.1 %
 * fee; no slippage). Each framework runs as a whole process — start-up, loading the CSV, the
 * backtest, writing its fills — and the fills of all of them must be identical (time, side,
 * price, quantity): the first difference fails the bench. Runs alternate between frameworks
 * (the order rotates every round) so that the machine's noise falls on all of them alike.
 *
 *   node dist/bench/peers.js [--rounds 3] [--data FILE] [--only bot4,backtesting.py,backtrader,freqtrade,growth]
 *                            [--no-freqtrade]
 *
 * The Python frameworks run in a virtualenv under `.cache/peers-venv`, provisioned on first use
 * from `bench/peers/requirements.txt` (pinned versions; re-provisioned when that file changes).
 * freqtrade (optional: when its install fails the bench says why and goes on without it) has its
 * own, `.cache/freqtrade-venv` from `bench/peers/requirements-freqtrade.txt`; its backtesting
 * runs offline on a static market list (`bench/peers/freqtrade_bt.py`).
 * The bot4 runs are `run-pipeline backtest` on `bench/peers/crossover.yaml` and, for the Growth
 * target, on `config/growth.yaml` (its fills are not compared: it is another strategy).
 *
 * Nothing asserts a time. It prints wall and CPU time (user + system of the child, which the
 * machine's load disturbs less) and writes `out/bench-peers.json`.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { repoRoot, sharedDataPath } from '../test/support/sharedData';

const PEERS_DIR = path.join(repoRoot, 'bench', 'peers');
const CACHE_DIR = path.join(repoRoot, '.cache');
const VENV = path.join(CACHE_DIR, 'peers-venv');
/** freqtrade in its own virtualenv: optional, large (~100 packages), pinned separately. */
const FREQTRADE_VENV = path.join(CACHE_DIR, 'freqtrade-venv');
const OUT = path.join(repoRoot, 'out', 'peers');
const CLI = path.join(repoRoot, 'dist', 'pipelines', 'cli.js');

interface Runner {
  readonly name: string;
  /** Whether its fills must equal the reference (bot4's crossover). */
  readonly compare: boolean;
  readonly command: (data: string, fills: string) => { file: string; args: string[]; fillsFrom?: string };
}

function fail(message: string): never {
  process.stderr.write(`bench:peers: ${message}\n`);
  process.exit(1);
}

function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

/**
 * Creates a virtualenv and installs pinned requirements once; again only when the pins change.
 * Returns its python, or (when `optional`) undefined with the reason printed when it cannot.
 */
function provisionVenv(venv: string, requirementsName: string, optional = false): string | undefined {
  const requirements = path.join(PEERS_DIR, requirementsName);
  const pins = readFileSync(requirements, 'utf8');
  const stamp = path.join(venv, '.bot4-requirements.sha256');
  const wanted = createHash('sha256').update(pins).digest('hex');
  const python = path.join(venv, 'bin', 'python');
  if (existsSync(python) && existsSync(stamp) && readFileSync(stamp, 'utf8') === wanted) return python;
  process.stdout.write(`provisioning ${path.relative(repoRoot, venv)} from bench/peers/${requirementsName} …\n`);
  const system = process.env['PYTHON'] ?? 'python3';
  const run = (file: string, args: string[]): boolean => {
    const r = spawnSync(file, args, { stdio: 'inherit' });
    if (r.status === 0) return true;
    const why = `${file} ${args.join(' ')} failed (exit ${r.status ?? r.signal})`;
    if (!optional) fail(why);
    process.stdout.write(`skipping the peers of ${requirementsName}: ${why}\n`);
    return false;
  };
  if (!existsSync(python) && !run(system, ['-m', 'venv', venv])) return undefined;
  if (!run(python, ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '-r', requirements]))
    return undefined;
  writeFileSync(stamp, wanted);
  return python;
}

/** CPU time (user + system, seconds) of this process's waited-for children, from /proc. */
function childrenCpu(): number {
  try {
    // Fields after the command name: state is field 3; cutime and cstime are fields 16 and 17.
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[13]) + Number(fields[14])) / 100; // clock ticks, USER_HZ = 100 on Linux
  } catch {
    return Number.NaN;
  }
}

/** bot4's fills from its journal, in the peers' line format. */
function bot4Fills(journal: string): string {
  let out = '';
  for (const line of readFileSync(journal, 'utf8').split('\n')) {
    if (!line.includes('"kind":"fill"')) continue;
    const fill = JSON.parse(line) as { tsEvent: number; side: string; price: string; qty: string };
    out += `${fill.tsEvent},${fill.side},${Number(fill.price).toFixed(8)},${Number(fill.qty).toFixed(5)}\n`;
  }
  return out;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function main(): void {
  const data =
    argValue('--data') ??
    sharedDataPath('candles/binance_spot_BTCUSDT_5m_nfi.csv') ??
    fail('no bars: pass --data FILE or provide ../shared/data (BOT4_SHARED_DATA)');
  const rounds = Number(argValue('--rounds') ?? 3);
  if (!Number.isInteger(rounds) || rounds < 1) fail(`--rounds: expected a positive integer, found ${rounds}`);
  const only = argValue('--only')?.split(',');
  if (!existsSync(CLI)) fail(`${CLI} not found: run npm run build first`);
  const wants = (name: string): boolean => !only || only.includes(name);
  const python = wants('backtesting.py') || wants('backtrader') ? provisionVenv(VENV, 'requirements.txt')! : '';
  const freqtradePython =
    wants('freqtrade') && !process.argv.includes('--no-freqtrade')
      ? provisionVenv(FREQTRADE_VENV, 'requirements-freqtrade.txt', true)
      : undefined;
  mkdirSync(OUT, { recursive: true });

  const bot4 = (config: string, name: string) => (_data: string, _fills: string) => {
    const out = path.join(OUT, name);
    rmSync(out, { recursive: true, force: true });
    return {
      file: process.execPath,
      args: [CLI, 'backtest', '-c', config, '-d', data, '-o', out, '-q'],
      fillsFrom: path.join(out, 'journal.jsonl'),
    };
  };
  const all: Runner[] = [
    { name: 'bot4', compare: true, command: bot4(path.join(PEERS_DIR, 'crossover.yaml'), 'bot4') },
    {
      name: 'backtesting.py',
      compare: true,
      command: (d, fills) => ({ file: python, args: [path.join(PEERS_DIR, 'backtesting_py.py'), d, fills] }),
    },
    {
      name: 'backtrader',
      compare: true,
      command: (d, fills) => ({ file: python, args: [path.join(PEERS_DIR, 'backtrader_bt.py'), d, fills] }),
    },
    ...(freqtradePython
      ? [
          {
            name: 'freqtrade',
            compare: true,
            command: (d: string, fills: string) => ({
              file: freqtradePython,
              args: [path.join(PEERS_DIR, 'freqtrade_bt.py'), d, fills],
            }),
          },
        ]
      : []),
    { name: 'growth', compare: false, command: bot4(path.join(repoRoot, 'config', 'growth.yaml'), 'growth') },
  ];
  const runners = all.filter((r) => wants(r.name));

  const wall = new Map<string, number[]>(runners.map((r) => [r.name, []]));
  const cpu = new Map<string, number[]>(runners.map((r) => [r.name, []]));
  const fills = new Map<string, string>();
  process.stdout.write(
    `bench:peers — ${path.basename(data)}, ${rounds} round(s), order rotating each round; whole processes\n`,
  );
  for (let round = 0; round < rounds; round++) {
    for (let k = 0; k < runners.length; k++) {
      const runner = runners[(k + round) % runners.length]!;
      const fillsFile = path.join(OUT, `${runner.name}.fills.csv`);
      rmSync(fillsFile, { force: true });
      const { file, args, fillsFrom } = runner.command(data, fillsFile);
      const cpu0 = childrenCpu();
      const t0 = process.hrtime.bigint();
      const r = spawnSync(file, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      const cpuSeconds = childrenCpu() - cpu0;
      if (r.status !== 0) fail(`${runner.name} failed (exit ${r.status ?? r.signal}):\n${r.stderr}${r.stdout}`);
      wall.get(runner.name)!.push(seconds);
      cpu.get(runner.name)!.push(cpuSeconds);
      process.stdout.write(
        `  round ${round + 1}: ${runner.name.padEnd(15)} ${seconds.toFixed(2)} s wall, ${cpuSeconds.toFixed(2)} s cpu\n`,
      );
      if (runner.compare) fills.set(runner.name, fillsFrom ? bot4Fills(fillsFrom) : readFileSync(fillsFile, 'utf8'));
    }
  }

  // The fills must be identical: the same strategy, decided the same way, filled the same way.
  const compared = runners.filter((r) => r.compare);
  const reference = compared[0];
  if (reference) {
    const ref = fills.get(reference.name)!.split('\n');
    writeFileSync(path.join(OUT, `${reference.name}.fills.csv`), ref.join('\n'));
    for (const other of compared.slice(1)) {
      const lines = fills.get(other.name)!.split('\n');
      for (let i = 0; i < Math.max(ref.length, lines.length); i++) {
        if (ref[i] !== lines[i])
          fail(
            `fills differ at fill ${i + 1}: ${reference.name} ${ref[i] || '(none)'} vs ${other.name} ${lines[i] || '(none)'} ` +
              `(files in ${path.relative(repoRoot, OUT)})`,
          );
      }
    }
    process.stdout.write(
      `fills identical across ${compared.map((r) => r.name).join(', ')}: ${ref.filter(Boolean).length} fills (time, side, price, quantity)\n`,
    );
  }

  const base = runners[0] ? median(wall.get(runners[0].name)!) : Number.NaN;
  const baseCpu = runners[0] ? median(cpu.get(runners[0].name)!) : Number.NaN;
  const rows = runners.map((r) => {
    const w = median(wall.get(r.name)!);
    const c = median(cpu.get(r.name)!);
    return { name: r.name, wall: w, cpu: c, ratio: w / base, cpuRatio: c / baseCpu };
  });
  const label = (name: string): string =>
    name === 'bot4'
      ? 'bot4 (bench/peers/crossover.yaml)'
      : name === 'growth'
        ? 'bot4, shipped Growth config (GARCH VaR, ML)'
        : name;
  process.stdout.write(
    `\n| framework | wall (median) | cpu (median) | wall vs bot4 | cpu vs bot4 |\n|---|---|---|---|---|\n`,
  );
  for (const row of rows) {
    process.stdout.write(
      `| ${label(row.name)} | ${row.wall.toFixed(2)} s | ${row.cpu.toFixed(2)} s | ${row.ratio.toFixed(2)}× | ${row.cpuRatio.toFixed(2)}× |\n`,
    );
  }
  const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  process.stdout.write(`\nload average at the end: ${load} (wall times inflate under load; cpu times less so)\n`);
  writeFileSync(
    path.join(repoRoot, 'out', 'bench-peers.json'),
    `${JSON.stringify({ data, rounds, rows, runs: Object.fromEntries(wall), cpuRuns: Object.fromEntries(cpu), load }, null, 2)}\n`,
  );
}

main();
