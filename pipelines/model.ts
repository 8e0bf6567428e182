/** Loading and saving ML model files (the side-effect half of operators/mlModel). */
import { existsSync, readFileSync, renameSync, writeFileSync, mkdirSync } from 'node:fs';
import * as path from 'node:path';
import {
  compileModel,
  MODEL_FORMAT,
  MODEL_FORMAT_VERSION,
  type CompiledModel,
  type ModelFile,
} from '../operators/mlModel';
import { canonicalJson, type PipelineConfig } from './config';

export class ModelError extends Error {
  readonly code = 'MODEL_INVALID';
  readonly stage = 'ml';
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(`${file}: ${message}`);
    this.name = 'ModelError';
  }
}

/** Loads the model a config references and checks it fits the config (symbol, timeframe, features). */
export function loadModelFor(config: PipelineConfig): CompiledModel {
  const file = config.modelPath;
  if (!file) throw new Error(`config ${config.file} has no signals.ml.model`);
  if (!existsSync(file)) {
    throw new ModelError(
      file,
      `model file not found (referenced by signals.ml.model in ${config.file}). Train one with:\n` +
        `  run-pipeline train --config ${path.relative(process.cwd(), config.file)} --data <bars.csv>`,
    );
  }
  let model: ModelFile;
  try {
    model = JSON.parse(readFileSync(file, 'utf8')) as ModelFile;
  } catch (err) {
    throw new ModelError(file, `not a JSON model file: ${(err as Error).message}`);
  }
  if (model.format !== MODEL_FORMAT || model.version !== MODEL_FORMAT_VERSION) {
    throw new ModelError(
      file,
      `expected format "${MODEL_FORMAT}" version ${MODEL_FORMAT_VERSION}, found ${JSON.stringify(model.format)} version ${JSON.stringify(model.version)}`,
    );
  }
  if (model.symbol !== config.instrument.symbol || model.timeframe !== config.timeframe) {
    throw new ModelError(
      file,
      `trained for ${model.symbol} ${model.timeframe}, but the config trades ${config.instrument.symbol} ${config.timeframe}`,
    );
  }
  const configured = new Map(config.features.map((f) => [f.id, canonicalJson(f)]));
  const mismatched = model.features.filter((f) => configured.get(f.id) !== canonicalJson(f));
  if (mismatched.length > 0) {
    throw new ModelError(
      file,
      `the model needs features the config does not define identically: ${mismatched.map((f) => `${f.id} (${f.indicator} ${JSON.stringify(f.options ?? [])})`).join(', ')}`,
    );
  }
  const expectedInputs = model.inputs.length;
  if (model.normalization.mean.length !== expectedInputs || model.normalization.std.length !== expectedInputs) {
    throw new ModelError(
      file,
      `normalisation has ${model.normalization.mean.length} entries for ${expectedInputs} inputs`,
    );
  }
  try {
    return compileModel(model);
  } catch (err) {
    throw new ModelError(file, `the network cannot be loaded: ${(err as Error).message}`);
  }
}

/**
 * Writes a model file. An existing file at that path is kept as `<name>.<its id>.json` first, so
 * training never destroys the model a running config uses.
 */
export function saveModel(file: string, model: ModelFile): { path: string; previous?: string } {
  mkdirSync(path.dirname(file), { recursive: true });
  let previous: string | undefined;
  if (existsSync(file)) {
    try {
      const old = JSON.parse(readFileSync(file, 'utf8')) as Partial<ModelFile>;
      const id = typeof old.id === 'string' ? old.id.slice(0, 12) : 'previous';
      previous = `${file.replace(/\.json$/, '')}.${id}.json`;
      if (!existsSync(previous)) renameSync(file, previous);
    } catch {
      previous = `${file}.bak`;
      renameSync(file, previous);
    }
  }
  const temporary = `${file}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(model, null, 1)}\n`);
  renameSync(temporary, file);
  return previous ? { path: file, previous } : { path: file };
}
