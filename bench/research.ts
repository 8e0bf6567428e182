/**
 * Research speed: a walk-forward of one config (6 folds, rolling) over every 5m file of the shared
 * data (7 symbols × ~65k bars), and `optimize` trials per minute on BTC/USDT with 1 worker and
 * with one worker process per core. Called from bench/index.ts.
 */
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { parseDimension, runOptimize } from '../pipelines/researchOptimize';
import { defaultWorkers } from '../pipelines/researchPool';
import { runWalkForward } from '../pipelines/researchWalkForward';
import { repoRoot, sharedDataPath } from '../test/support/sharedData';

const SYMBOLS = ['BTC', 'ADA', 'SOL', 'XRP', 'DOT', 'LINK', 'LTC'];

export async function benchResearch(
  line: (label: string, value: string) => void,
): Promise<Record<string, number | string>> {
  const config = path.join(repoRoot, 'config', 'survival.yaml');
  const files = SYMBOLS.map((s) => sharedDataPath(`candles/binance_spot_${s}USDT_5m_nfi.csv`)).filter(
    (f): f is string => !!f,
  );
  if (files.length === 0) {
    line('walk-forward', 'skipped: no shared data on this machine');
    return { skipped: 'no shared data' };
  }
  const out = path.join(tmpdir(), `bot4-bench-research-${process.pid}`);
  let bars = 0;
  const start = process.hrtime.bigint();
  const cpu0 = process.cpuUsage();
  for (const file of files) {
    const r = await runWalkForward({ configFile: config, dataFile: file, folds: 6, outDir: out });
    bars += r.data.bars;
  }
  const wfSeconds = Number(process.hrtime.bigint() - start) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  const wfCpuSeconds = (cpu.user + cpu.system) / 1e6;
  line(
    `walk-forward, 1 config, 6 folds, ${files.length} symbols`,
    `${wfSeconds.toFixed(1)} s wall (${wfCpuSeconds.toFixed(1)} s CPU) for ${bars} bars   target ≤ 60 s`,
  );
  const btc = files[0] as string;
  const trials = 4;
  const rates: Record<string, number> = {};
  for (const workers of [1, defaultWorkers()].filter((w, i, all) => all.indexOf(w) === i)) {
    const t0 = process.hrtime.bigint();
    await runOptimize({
      configFile: config,
      dataFile: btc,
      folds: 6,
      space: [parseDimension('signals.ta.threshold=0.2:0.7')],
      trials,
      workers,
      outDir: path.join(out, `optimize-${workers}`),
    });
    const minutes = Number(process.hrtime.bigint() - t0) / 6e10;
    rates[`optimizeTrialsPerMinute${workers}Workers`] = trials / minutes;
    line(
      `optimize on ${path.basename(btc)}, ${workers} worker(s)`,
      `${(trials / minutes).toFixed(2)} trials/minute (6-fold walk-forward per trial)`,
    );
  }
  rmSync(out, { recursive: true, force: true });
  return {
    walkForwardSeconds: wfSeconds,
    walkForwardCpuSeconds: wfCpuSeconds,
    walkForwardBars: bars,
    symbols: files.length,
    ...rates,
  };
}
