/**
 * Headless Chromium (Debian's `chromium`, installed by `scripts/install-chromium.sh`) driven over the
 * DevTools protocol with `ws`: open a page, evaluate JavaScript in it, take a screenshot.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import * as path from 'node:path';
import WebSocket from 'ws';

const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');

export interface Browser {
  /** Opens `url` in the page and waits for its load event. */
  open(url: string): Promise<void>;
  /** Evaluates an expression in the page; returns its value (JSON-serialisable). */
  evaluate<T>(expression: string): Promise<T>;
  /** PNG of the page. */
  screenshot(): Promise<Buffer>;
  close(): Promise<void>;
}

export async function launchChromium(userDataDir: string, size = { width: 1360, height: 1000 }): Promise<Browser> {
  const binary = execFileSync(path.join(REPO_ROOT, 'scripts', 'install-chromium.sh'), { encoding: 'utf8' }).trim();
  const child: ChildProcess = spawn(
    binary,
    [
      '--headless=new',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-dev-shm-usage',
      '--no-first-run',
      '--no-default-browser-check',
      '--remote-debugging-address=127.0.0.1',
      '--remote-debugging-port=0',
      `--user-data-dir=${userDataDir}`,
      `--window-size=${size.width},${size.height}`,
      'about:blank',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const browserUrl = await new Promise<string>((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new Error(`chromium did not start: ${text}`)), 60_000);
    child.stderr!.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      const m = /DevTools listening on (ws:\/\/\S+)/.exec(text);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`chromium exited with ${code}: ${text}`));
    });
  });
  const origin = new URL(browserUrl);
  const targets = (await (await fetch(`http://${origin.host}/json/list`)).json()) as {
    type: string;
    webSocketDebuggerUrl: string;
  }[];
  const page = targets.find((t) => t.type === 'page');
  if (!page) throw new Error('chromium has no page');
  const socket = new WebSocket(page.webSocketDebuggerUrl);
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  let nextId = 1;
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  const listeners = new Set<(method: string) => void>();
  socket.on('message', (data: WebSocket.RawData) => {
    const message = JSON.parse(data.toString()) as {
      id?: number;
      result?: unknown;
      error?: { message: string };
      method?: string;
    };
    if (message.id !== undefined) {
      const p = pending.get(message.id);
      pending.delete(message.id);
      if (message.error) p?.reject(new Error(message.error.message));
      else p?.resolve(message.result);
    } else if (message.method) for (const l of listeners) l(message.method);
  });
  const send = <T>(method: string, params: Record<string, unknown> = {}): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      socket.send(JSON.stringify({ id, method, params }));
    });
  await send('Page.enable');
  await send('Emulation.setDeviceMetricsOverride', {
    width: size.width,
    height: size.height,
    deviceScaleFactor: 1,
    mobile: false,
  });
  return {
    open: async (url) => {
      const loaded = new Promise<void>((resolve) => {
        const l = (method: string): void => {
          if (method === 'Page.loadEventFired') {
            listeners.delete(l);
            resolve();
          }
        };
        listeners.add(l);
      });
      await send('Page.navigate', { url });
      await loaded;
    },
    evaluate: async <T>(expression: string): Promise<T> => {
      const result = await send<{ result: { value?: T }; exceptionDetails?: { text: string } }>('Runtime.evaluate', {
        expression,
        returnByValue: true,
      });
      if (result.exceptionDetails) throw new Error(`page: ${result.exceptionDetails.text}`);
      return result.result.value as T;
    },
    screenshot: async () => {
      const shot = await send<{ data: string }>('Page.captureScreenshot', {
        format: 'png',
        captureBeyondViewport: true,
      });
      return Buffer.from(shot.data, 'base64');
    },
    close: async () => {
      socket.close();
      if (child.exitCode !== null) return;
      await new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      });
    },
  };
}
