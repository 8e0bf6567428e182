/**
 * `npm run bench:parallel`: seven symbols × 65k 5m bars (BTC, ADA, SOL, XRP, DOT, LINK, LTC from
 * ../shared/data), the peer benchmark's crossover on each, on a pool of worker processes (one per
 * core) — against one symbol alone. Prints wall and CPU times, the ratio (the issue's target: 7
 * symbols ≤ 3× one symbol on 2 cores) and the workers' peak resident memory. With `--verify`
 * every symbol is also run in this process and its report and journal compared.
 *
 *   node dist/bench/parallel.js [--workers N] [--verify]
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import * as path from 'node:path';
import { runBacktest, type BacktestResult } from '../pipelines/backtest';
import { runBacktests, type BacktestJob } from '../pipelines/backtestPool';
import { repoRoot, sharedDataPath } from '../test/support/sharedData';

const SYMBOLS = ['BTC', 'ADA', 'SOL', 'XRP', 'DOT', 'LINK', 'LTC'];
const WORK = path.join(repoRoot, '.cache', 'bench-parallel');

function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

/** CPU seconds (user + system) of this process and of its waited-for children. */
function cpuSeconds(): { self: number; children: number } {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { self: (Number(f[11]) + Number(f[12])) / 100, children: (Number(f[13]) + Number(f[14])) / 100 };
}

function jobsFor(symbols: readonly string[]): BacktestJob[] {
  const template = readFileSync(path.join(repoRoot, 'bench', 'peers', 'crossover.yaml'), 'utf8');
  mkdirSync(WORK, { recursive: true });
  return symbols.map((base) => {
    const dataFile = sharedDataPath(`candles/binance_spot_${base}USDT_5m_nfi.csv`);
    if (!dataFile) throw new Error(`bench:parallel: ../shared/data has no ${base}/USDT 5m file`);
    // The same strategy on each symbol: only the symbol and the name change.
    const configFile = path.join(WORK, `crossover-${base.toLowerCase()}.yaml`);
    writeFileSync(
      configFile,
      template
        .replace(/symbol: BTC\/USDT/, `symbol: ${base}/USDT`)
        .replace(/name: peers-crossover/, `name: peers-crossover-${base.toLowerCase()}`),
    );
    return { configFile, dataFile, outDir: path.join(WORK, 'out', base) };
  });
}

async function timed(
  jobs: readonly BacktestJob[],
  workers: number,
): Promise<{ seconds: number; cpu: number; results: BacktestResult[]; peakRssMb: number[] }> {
  const peak = new Map<number, number>();
  const cpu0 = cpuSeconds();
  const t0 = process.hrtime.bigint();
  const results = await runBacktests(jobs, {
    workers,
    onResult: (_i, _r, w) => peak.set(w.pid, Math.max(peak.get(w.pid) ?? 0, w.maxRssKb)),
  });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu1 = cpuSeconds();
  return {
    seconds,
    cpu: cpu1.self + cpu1.children - cpu0.self - cpu0.children,
    results,
    peakRssMb: [...peak.values()].map((kb) => kb / 1024),
  };
}

async function main(): Promise<void> {
  const workers = Number(argValue('--workers') ?? availableParallelism());
  const one = await timed(jobsFor(SYMBOLS.slice(0, 1)), 1);
  const all = await timed(jobsFor(SYMBOLS), workers);
  const bars = all.results.reduce((n, r) => n + r.report.bars, 0);
  const line = (label: string, value: string): void => void process.stdout.write(`  ${label.padEnd(34)} ${value}\n`);
  process.stdout.write(`bench:parallel — crossover (bench/peers/crossover.yaml) per symbol, worker processes\n`);
  line('1 symbol, 1 worker', `${one.seconds.toFixed(2)} s wall, ${one.cpu.toFixed(2)} s cpu`);
  line(
    `${SYMBOLS.length} symbols, ${workers} workers`,
    `${all.seconds.toFixed(2)} s wall, ${all.cpu.toFixed(2)} s cpu (${bars.toLocaleString('en')} bars)`,
  );
  line(
    'ratio 7 symbols / 1 symbol',
    `${(all.seconds / one.seconds).toFixed(2)}× wall, ${(all.cpu / one.cpu).toFixed(2)}× cpu   target ≤ 3× (2 cores)`,
  );
  const mainRss = process.resourceUsage().maxRSS / 1024;
  line(
    'peak RSS',
    `workers ${all.peakRssMb.map((m) => `${m.toFixed(0)} MB`).join(', ')}; this process ${mainRss.toFixed(0)} MB; ` +
      `sum ${(all.peakRssMb.reduce((a, b) => a + b, 0) + mainRss).toFixed(0)} MB   target ≤ 200 MB`,
  );
  const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  line('load average', load);
  if (process.argv.includes('--verify')) {
    const jobs = jobsFor(SYMBOLS);
    for (let i = 0; i < jobs.length; i++) {
      const alone = await runBacktest({ ...jobs[i]!, outDir: path.join(WORK, 'alone', SYMBOLS[i]!) });
      const pooled = all.results[i]!;
      const same =
        JSON.stringify({ ...alone.report, journal: null }) === JSON.stringify({ ...pooled.report, journal: null }) &&
        readFileSync(alone.journalFile, 'utf8') === readFileSync(pooled.journalFile, 'utf8');
      if (!same) throw new Error(`bench:parallel: ${SYMBOLS[i]} differs between the pool and a run in this process`);
    }
    line('verify', `all ${jobs.length} reports and journals identical to runs in this process`);
  }
  mkdirSync(path.join(repoRoot, 'out'), { recursive: true });
  writeFileSync(
    path.join(repoRoot, 'out', 'bench-parallel.json'),
    `${JSON.stringify({ workers, one: { ...one, results: undefined }, all: { ...all, results: undefined }, load }, null, 2)}\n`,
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
