/**
 * `research optimize`: Bayesian optimisation (TPE) of numeric config keys, each trial scored out
 * of sample by a walk-forward of that one config (the stitched out-of-sample Sharpe ratio).
 * Trials are appended to `trials.jsonl` as they finish, so a stopped run resumes where it was.
 * The best config is written as a new file with its provenance and the deflated Sharpe ratio
 * counting every trial — the search itself is a source of false discoveries.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { parseDocument } from 'yaml';
import { pipelineConfigSchema } from '../config/schema';
import {
  bootstrapTrades,
  deflatedSharpe,
  equityReturns,
  probabilityOfBacktestOverfitting,
  proposeTpe,
  type DeflatedSharpe,
  type PboResult,
  type TpeTrial,
  type TradeBootstrap,
} from '../operators/stats';
import { parseConfig } from './config';
import { loadConfigWith, ParamSpecError, type Overrides } from './researchConfig';
import { fileSha256 } from './researchData';
import { WalkForwardPool } from './researchPool';
import { runWalkForward, type WalkForwardOptions } from './researchWalkForward';

export interface SearchDimension {
  readonly key: string;
  readonly low: number;
  readonly high: number;
  readonly integer: boolean;
}

interface SchemaNode {
  shape?: Record<string, SchemaNode>;
  element?: SchemaNode;
  unwrap?: () => SchemaNode;
  minValue?: number | null;
  maxValue?: number | null;
  isInt?: boolean;
  def?: { type?: string };
}

/** The zod number at a dotted config key, with its bounds (null when the schema has none). */
export function schemaBounds(key: string): { min: number | null; max: number | null; integer: boolean } {
  let node = pipelineConfigSchema as unknown as SchemaNode;
  const unwrap = () => {
    while (!node.shape && !node.element && node.def?.type !== 'number' && node.unwrap) node = node.unwrap();
  };
  for (const part of key.split('.')) {
    unwrap();
    const next = /^\d+$/.test(part) ? node.element : node.shape?.[part];
    if (!next) throw new ParamSpecError(`--param ${key}: "${part}" is not a key of the config schema`);
    node = next;
  }
  unwrap();
  if (node.def?.type !== 'number')
    throw new ParamSpecError(`--param ${key}: not a number in the config schema (${node.def?.type ?? 'unknown'})`);
  const finite = (v: number | null | undefined) => (v !== undefined && v !== null && Number.isFinite(v) ? v : null);
  return { min: finite(node.minValue), max: finite(node.maxValue), integer: node.isInt === true };
}

/** `key`, `key=low:high` or `key=low:high:int`; bounds default to the schema's and must lie inside them. */
export function parseDimension(spec: string): SearchDimension {
  const [key, range] = spec.split('=', 2) as [string, string | undefined];
  const schema = schemaBounds(key.trim());
  let low = schema.min;
  let high = schema.max;
  let integer = schema.integer;
  if (range !== undefined) {
    const parts = range.split(':');
    const lo = Number(parts[0]);
    const hi = Number(parts[1]);
    if (parts.length < 2 || !Number.isFinite(lo) || !Number.isFinite(hi) || lo >= hi)
      throw new ParamSpecError(`--param ${key}: expected low:high with low < high, found "${range}"`);
    if ((schema.min !== null && lo < schema.min) || (schema.max !== null && hi > schema.max))
      throw new ParamSpecError(
        `--param ${key}: ${lo}:${hi} is outside the schema's bounds [${schema.min ?? '-∞'}, ${schema.max ?? '∞'}]`,
      );
    low = lo;
    high = hi;
    integer = integer || parts[2] === 'int';
  }
  if (low === null || high === null)
    throw new ParamSpecError(
      `--param ${key}: the schema gives no finite bounds [${low ?? '-∞'}, ${high ?? '∞'}]; give them as ${key}=low:high`,
    );
  return { key: key.trim(), low, high, integer };
}

function toOverrides(dims: readonly SearchDimension[], x: readonly number[]): Overrides {
  const out: Record<string, number> = {};
  for (const [i, d] of dims.entries()) {
    const v = d.low + (x[i] as number) * (d.high - d.low);
    out[d.key] = d.integer ? Math.round(v) : Number(v.toPrecision(6));
  }
  return out;
}

export interface TrialRecord {
  readonly kind: 'trial';
  readonly trial: number;
  readonly x: number[];
  readonly overrides: Overrides;
  readonly configHash: string;
  readonly objective: number;
  readonly outOfSampleReturn: number;
  readonly buyAndHoldReturn: number;
  readonly maxDrawdown: number;
  readonly sharpe: {
    readonly perBar: number;
    readonly n: number;
    readonly skewness: number;
    readonly kurtosis: number;
  };
  /** Out-of-sample round trips' returns (for the bootstrap of the best trial). */
  readonly tripReturns: readonly number[];
}

interface Header {
  readonly kind: 'optimize-started';
  readonly config: string;
  readonly configHash: string;
  readonly data: string;
  readonly dataSha256: string;
  readonly space: readonly SearchDimension[];
  readonly scheme: Record<string, unknown>;
  readonly seed: number;
}

export interface OptimizeOptions
  extends Omit<WalkForwardOptions, 'candidates' | 'objective' | 'onProgress' | 'dataFile'> {
  /** Bars CSV of the config's symbol (one-symbol configs). */
  readonly dataFile: string;
  readonly space: readonly SearchDimension[];
  readonly trials: number;
  readonly seed?: number;
  /** Trials run at once on worker threads. Default 1 (in this thread). */
  readonly workers?: number;
  readonly onProgress?: (message: string) => void;
}

export interface OptimizeResult {
  readonly trials: readonly TrialRecord[];
  readonly best: TrialRecord;
  readonly deflated: DeflatedSharpe;
  /** CSCV over the trials' stitched out-of-sample per-bar returns (null with fewer than 2 trials). */
  readonly pbo: PboResult | null;
  /** Bootstrap of the best trial's out-of-sample round trips (null with fewer than 2). */
  readonly bootstrap: TradeBootstrap | null;
  readonly bestConfigFile: string;
  readonly trialsFile: string;
  readonly resumedFrom: number;
}

export async function runOptimize(options: OptimizeOptions): Promise<OptimizeResult> {
  const progress = options.onProgress ?? (() => {});
  if (!Number.isInteger(options.trials) || options.trials < 1)
    throw new ParamSpecError(`--trials: expected a whole number ≥ 1, found ${options.trials}`);
  if (options.space.length === 0) throw new ParamSpecError('optimize: give at least one --param to search');
  mkdirSync(options.outDir, { recursive: true });
  const trialsFile = path.join(options.outDir, 'trials.jsonl');
  const base = loadConfigWith(options.configFile, {});
  const seed = options.seed ?? 1;
  const header: Header = {
    kind: 'optimize-started',
    config: path.resolve(options.configFile),
    configHash: base.hash,
    data: path.resolve(options.dataFile),
    dataSha256: fileSha256(options.dataFile),
    space: options.space,
    scheme: {
      folds: options.folds ?? 6,
      mode: options.mode ?? 'rolling',
      trainFraction: options.trainFraction ?? null,
      trainUntil: options.trainUntil ?? null,
      purgeBars: options.purgeBars ?? 0,
      embargoBars: options.embargoBars ?? null,
      from: options.from ?? null,
      until: options.until ?? null,
    },
    seed,
  };
  const trials: TrialRecord[] = [];
  if (existsSync(trialsFile)) {
    const lines = readFileSync(trialsFile, 'utf8').split('\n').filter(Boolean);
    const previous = JSON.parse(lines[0] ?? '{}') as Header;
    if (JSON.stringify(previous) !== JSON.stringify(header))
      throw new ParamSpecError(
        `${trialsFile} belongs to a different search (config, data, space, scheme or seed changed); use another --out or delete it`,
      );
    for (const l of lines.slice(1)) trials.push(JSON.parse(l) as TrialRecord);
  } else writeFileSync(trialsFile, `${JSON.stringify(header)}\n`);
  const returnsDir = path.join(options.outDir, 'returns');
  mkdirSync(returnsDir, { recursive: true });
  const resumedFrom = trials.length;
  if (resumedFrom > 0) progress(`resuming after ${resumedFrom} trial(s) in ${trialsFile}`);

  // Trials run in batches of `workers`: the batch's points are proposed one after another, each
  // seeing the ones before it as pending with the worst value so far ("constant liar"), so they
  // spread out. With one worker this is the plain sequential TPE.
  const workers = options.workers ?? 1;
  if (!Number.isInteger(workers) || workers < 1)
    throw new ParamSpecError(`--workers: expected a whole number ≥ 1, found ${workers}`);
  const pool = workers > 1 ? new WalkForwardPool(workers) : undefined;
  try {
    while (trials.length < options.trials) {
      const history: TpeTrial[] = trials.map((t) => ({ x: t.x, value: t.objective }));
      const liar = history.length ? Math.min(...history.map((h) => h.value)) : 0;
      const batch: { x: number[]; overrides: Overrides }[] = [];
      for (let j = 0; j < Math.min(workers, options.trials - trials.length); j++) {
        const x = proposeTpe({ dimensions: options.space.length, seed }, history);
        history.push({ x, value: liar });
        batch.push({ x, overrides: toOverrides(options.space, x) });
      }
      const runs = batch.map((t, j) => {
        const { onProgress: _ignored, ...rest } = options;
        // No statistical tests per trial: the trial needs the returns' moments only.
        return {
          ...rest,
          candidates: [t.overrides],
          statistics: false,
          outDir: path.join(options.outDir, `last-trial-${j}`),
        };
      });
      const results = pool ? await pool.runAll(runs) : [await runWalkForward(runs[0] as (typeof runs)[number])];
      for (const [j, wf] of results.entries()) {
        const { x, overrides } = batch[j] as (typeof batch)[number];
        const k = trials.length;
        const record: TrialRecord = {
          kind: 'trial',
          trial: k + 1,
          x,
          overrides,
          configHash: wf.candidates[0]?.hash ?? '',
          objective: Number.isFinite(wf.outOfSample.sharpeAnnualised) ? wf.outOfSample.sharpeAnnualised : -1e9,
          outOfSampleReturn: wf.outOfSample.totalReturn,
          buyAndHoldReturn: wf.outOfSample.buyAndHoldReturn,
          maxDrawdown: wf.outOfSample.maxDrawdown,
          sharpe: {
            perBar: wf.outOfSample.deflated?.sharpe ?? 0,
            n: wf.outOfSample.bars,
            skewness: wf.outOfSample.moments?.skewness ?? 0,
            kurtosis: wf.outOfSample.moments?.kurtosis ?? 3,
          },
          tripReturns: wf.trips.map((t) => t.return),
        };
        // Per-bar returns go beside the trials file (binary, 8 bytes a bar) for the PBO at the end.
        writeFileSync(path.join(returnsDir, `trial-${k + 1}.f64`), Buffer.from(equityReturns(wf.curve.equity).buffer));
        appendFileSync(trialsFile, `${JSON.stringify(record)}\n`);
        trials.push(record);
        progress(
          `trial ${k + 1}/${options.trials}: ${JSON.stringify(overrides)} → out-of-sample Sharpe ${record.objective.toFixed(3)}, return ${(record.outOfSampleReturn * 100).toFixed(2)} %`,
        );
      }
    }
  } finally {
    await pool?.close();
  }

  const best = trials.reduce((a, b) => (b.objective > a.objective ? b : a));
  const deflated = deflatedSharpe(
    {
      sharpe: best.sharpe.perBar,
      n: Math.max(2, best.sharpe.n),
      skewness: best.sharpe.skewness,
      kurtosis: best.sharpe.kurtosis,
    },
    trials.length,
    trials.map((t) => t.sharpe.perBar),
  );
  const bestConfigFile = writeBestConfig(options, best, deflated, header, trials.length);
  const matrix = trials.map((t) => {
    const buf = readFileSync(path.join(returnsDir, `trial-${t.trial}.f64`));
    return new Float64Array(buf.buffer, buf.byteOffset, buf.byteLength / 8);
  });
  const rows = Math.min(...matrix.map((m) => m.length));
  const blocks = Math.min(16, 2 * Math.floor(rows / 4));
  const pbo =
    trials.length >= 2 && blocks >= 2
      ? {
          ...probabilityOfBacktestOverfitting(
            Array.from({ length: rows }, (_, t) => matrix.map((m) => m[t] as number)),
            { blocks },
          ),
          logits: [],
        }
      : null;
  const bootstrap = best.tripReturns.length >= 2 ? bootstrapTrades(best.tripReturns) : null;
  return { trials, best, deflated, pbo, bootstrap, bestConfigFile, trialsFile, resumedFrom };
}

function writeBestConfig(
  options: OptimizeOptions,
  best: TrialRecord,
  deflated: DeflatedSharpe,
  header: Header,
  trials: number,
): string {
  const source = path.resolve(options.configFile);
  const doc = parseDocument(readFileSync(source, 'utf8'));
  for (const [key, value] of Object.entries(best.overrides))
    doc.setIn(
      key.split('.').map((p) => (/^\d+$/.test(p) ? Number(p) : p)),
      value,
    );
  const out = path.join(options.outDir, `${path.basename(source).replace(/\.(ya?ml|json)$/, '')}.optimized.yaml`);
  // A model path is relative to the config's folder: keep it pointing at the same file.
  const model = doc.getIn(['signals', 'ml', 'model']);
  if (typeof model === 'string' && !path.isAbsolute(model))
    doc.setIn(['signals', 'ml', 'model'], path.relative(path.dirname(out), path.resolve(path.dirname(source), model)));
  doc.commentBefore = [
    ` Written by run-pipeline research optimize from ${path.relative(process.cwd(), source)} (config hash ${header.configHash}).`,
    ` Data ${path.basename(header.data)} sha256 ${header.dataSha256}.`,
    ` Walk-forward ${JSON.stringify(header.scheme)}; objective: stitched out-of-sample Sharpe (annualised).`,
    ` Best of ${trials} TPE trials (seed ${header.seed}): trial ${best.trial} ${JSON.stringify(best.overrides)}, config hash ${best.configHash}.`,
    ` Out of sample: Sharpe ${best.objective.toFixed(3)}, return ${(best.outOfSampleReturn * 100).toFixed(2)} % (buy & hold ${(best.buyAndHoldReturn * 100).toFixed(2)} %), max drawdown ${(best.maxDrawdown * 100).toFixed(2)} %.`,
    ` Deflated Sharpe ${deflated.deflatedSharpe.toFixed(3)} counting ${trials} trials (probabilistic Sharpe ${deflated.probabilisticSharpe.toFixed(3)}): the best of a search looks better than it is.`,
  ].join('\n');
  const text = doc.toString();
  parseConfig(text, out); // the written config must load like any other (same schema)
  writeFileSync(out, text);
  return out;
}
