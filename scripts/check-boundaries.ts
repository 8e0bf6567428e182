/**
 * The dependency rules of the layout (DESIGN.md), checked on every test run:
 * - operators/ is the pure core: it imports only operators/ and side-effect-free packages;
 * - sources/, sinks/, hardware/ are drivers: they import operators/ and themselves, never each
 *   other and never pipelines/;
 * - config/ imports no project code; pipelines/ may import everything but tests;
 * - no import cycles.
 * Exits 1 listing every violation.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');
const FOLDERS = ['operators', 'sources', 'sinks', 'hardware', 'pipelines', 'config', 'test', 'bench', 'scripts'] as const;
type Folder = (typeof FOLDERS)[number];

/** Packages the pure core may use: computation only, no I/O, no clocks, no globals. */
const PURE_PACKAGES = new Set(['rxjs', 'brain.js', 'tulind', 'node:crypto']);

const ALLOWED_PROJECT_IMPORTS: Readonly<Record<Folder, readonly Folder[]>> = {
  operators: ['operators'],
  sources: ['sources', 'operators'],
  sinks: ['sinks', 'operators'],
  hardware: ['hardware', 'operators'],
  config: ['config'],
  pipelines: ['pipelines', 'operators', 'sources', 'sinks', 'hardware', 'config'],
  test: ['test', 'pipelines', 'operators', 'sources', 'sinks', 'hardware', 'config'],
  bench: ['bench', 'pipelines', 'operators', 'sources', 'sinks', 'hardware', 'config', 'test'],
  scripts: ['scripts'],
};

function listTs(dir: string): string[] {
  let out: string[] = [];
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const entry of entries) {
    const full = path.join(dir, entry);
    if (statSync(full).isDirectory()) out = out.concat(listTs(full));
    else if (entry.endsWith('.ts') && !entry.endsWith('.d.ts')) out.push(full);
  }
  return out;
}

function importsOf(source: string): string[] {
  const specifiers: string[] = [];
  const patterns = [/\bimport\s+(?:type\s+)?(?:[\s\S]*?\bfrom\s+)?['"]([^'"]+)['"]/g, /\bexport\s+(?:type\s+)?[\s\S]*?\bfrom\s+['"]([^'"]+)['"]/g, /\brequire\(\s*['"]([^'"]+)['"]\s*\)/g, /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g];
  for (const pattern of patterns) for (const match of source.matchAll(pattern)) specifiers.push(match[1]!);
  return specifiers;
}

function folderOf(file: string): Folder | undefined {
  const top = path.relative(ROOT, file).split(path.sep)[0];
  return FOLDERS.find((f) => f === top);
}

function resolveProjectFile(from: string, specifier: string): string | undefined {
  const base = path.resolve(path.dirname(from), specifier);
  for (const candidate of [`${base}.ts`, path.join(base, 'index.ts'), base]) {
    try {
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // try the next form
    }
  }
  return undefined;
}

const problems: string[] = [];
const graph = new Map<string, string[]>();
for (const folder of FOLDERS) {
  for (const file of listTs(path.join(ROOT, folder))) {
    const text = readFileSync(file, 'utf8');
    const edges: string[] = [];
    for (const specifier of importsOf(text)) {
      const rel = path.relative(ROOT, file);
      if (specifier.startsWith('.')) {
        const target = resolveProjectFile(file, specifier);
        if (!target) {
          problems.push(`${rel}: imports ${specifier}, which does not exist`);
          continue;
        }
        edges.push(target);
        const targetFolder = folderOf(target);
        if (!targetFolder || !ALLOWED_PROJECT_IMPORTS[folder].includes(targetFolder)) {
          problems.push(`${rel}: ${folder}/ may not import ${targetFolder ?? 'outside the project'}/ (${specifier})`);
        }
      } else if (folder === 'operators') {
        const pkg = specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : specifier.split('/')[0]!;
        if (!PURE_PACKAGES.has(pkg) && !PURE_PACKAGES.has(specifier)) {
          problems.push(`${rel}: operators/ must stay free of side effects; it may not import "${specifier}"`);
        }
      } else if (folder === 'config' && specifier !== 'zod') {
        problems.push(`${rel}: config/ may only import zod, not "${specifier}"`);
      }
    }
    graph.set(file, edges);
  }
}

// Cycles (type-only imports included: they still couple the modules).
const state = new Map<string, 'visiting' | 'done'>();
const stack: string[] = [];
function visit(file: string): void {
  state.set(file, 'visiting');
  stack.push(file);
  for (const next of graph.get(file) ?? []) {
    const s = state.get(next);
    if (s === 'visiting') {
      const cycle = stack.slice(stack.indexOf(next)).concat(next).map((f) => path.relative(ROOT, f));
      problems.push(`import cycle: ${cycle.join(' → ')}`);
    } else if (s === undefined) visit(next);
  }
  stack.pop();
  state.set(file, 'done');
}
for (const file of graph.keys()) if (!state.has(file)) visit(file);

if (problems.length > 0) {
  process.stderr.write(`dependency rules broken (${problems.length}):\n${problems.map((p) => `  ${p}`).join('\n')}\n`);
  process.exitCode = 1;
} else {
  process.stdout.write(`dependency rules hold (${graph.size} files)\n`);
}
