/**
 * `run-pipeline dashboard --out <session dir>`: the read-only dashboard of a session, served on
 * its own (the session may be running, stopped, or on another machine whose folder is mounted).
 * It only reads the session's journals; the session's own `--dashboard` flag serves the same page
 * from inside the session, with the process's health added.
 */
import { firstValueFrom, type Observable } from 'rxjs';
import { serveDashboard } from '../sinks/dashboard';

export interface DashboardOptions {
  /** The session's output folder. */
  readonly outDir: string;
  /** Port; 0 picks a free one. Default 8464. */
  readonly port?: number;
  /** Address. Default 127.0.0.1. */
  readonly host?: string;
  /** Stops the server when it emits. */
  readonly stop$: Observable<unknown>;
  readonly log: (line: string) => void;
}

export async function runDashboard(options: DashboardOptions): Promise<void> {
  const server = await serveDashboard({
    dir: options.outDir,
    port: options.port ?? 8464,
    ...(options.host !== undefined ? { host: options.host } : {}),
  });
  options.log(`dashboard of ${options.outDir}: ${server.url} (read-only; Ctrl-C stops it)`);
  try {
    await firstValueFrom(options.stop$, { defaultValue: undefined });
  } finally {
    await server.close();
  }
}
