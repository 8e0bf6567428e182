/**
 * Opens a page in headless Chromium (Debian's `chromium`, installed by
 * scripts/install-chromium.sh) over the DevTools protocol, collecting what a person's browser
 * console would show: console errors, uncaught exceptions, log errors, and every network request
 * that is not the page's own file. Loopback only (the DevTools socket is on 127.0.0.1).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import WebSocket from 'ws';

export function chromiumPath(): string | undefined {
  return [process.env['BOT4_CHROMIUM'], '/usr/bin/chromium', '/usr/bin/chromium-browser'].find(
    (p): p is string => !!p && existsSync(p),
  );
}

export interface PageSession {
  /** Console errors, exceptions and log errors, as text. */
  readonly errors: string[];
  /** URLs requested other than file: and data: ones. */
  readonly externalRequests: string[];
  evaluate<T>(expression: string): Promise<T>;
  screenshot(file: string): Promise<void>;
  close(): Promise<void>;
}

export async function openPage(url: string, options: { width?: number; height?: number } = {}): Promise<PageSession> {
  const binary = chromiumPath();
  if (!binary) throw new Error('chromium not found: run scripts/install-chromium.sh');
  const profile = mkdtempSync(path.join(tmpdir(), 'bot4-chromium-'));
  const browser: ChildProcess = spawn(
    binary,
    [
      '--headless=new',
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--remote-debugging-address=127.0.0.1',
      '--remote-debugging-port=0',
      `--user-data-dir=${profile}`,
      `--window-size=${options.width ?? 1280},${options.height ?? 1900}`,
      'about:blank',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const endpoint = await new Promise<string>((resolve, reject) => {
    let text = '';
    browser.stderr?.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      const m = /DevTools listening on (ws:\/\/\S+)/.exec(text);
      if (m) resolve(m[1] as string);
    });
    browser.once('exit', (code) =>
      reject(new Error(`chromium exited (${code}) before DevTools was up: ${text.slice(-500)}`)),
    );
  });
  const ws = new WebSocket(endpoint);
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  let nextId = 1;
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  const listeners: ((method: string, params: Record<string, unknown>) => void)[] = [];
  ws.on('message', (data: WebSocket.RawData) => {
    const msg = JSON.parse(data.toString()) as {
      id?: number;
      result?: unknown;
      error?: { message: string };
      method?: string;
      params?: Record<string, unknown>;
    };
    if (msg.id !== undefined) {
      const p = pending.get(msg.id);
      pending.delete(msg.id);
      if (msg.error) p?.reject(new Error(msg.error.message));
      else p?.resolve(msg.result);
    } else if (msg.method) for (const l of listeners) l(msg.method, msg.params ?? {});
  });
  const send = <T>(method: string, params: Record<string, unknown> = {}, sessionId?: string): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      ws.send(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }));
    });

  const errors: string[] = [];
  const externalRequests: string[] = [];
  let loaded = false;
  listeners.push((method, params) => {
    if (method === 'Runtime.consoleAPICalled' && (params['type'] === 'error' || params['type'] === 'assert'))
      errors.push(`console.${params['type']}: ${JSON.stringify(params['args'])}`);
    else if (method === 'Runtime.exceptionThrown')
      errors.push(`exception: ${JSON.stringify(params['exceptionDetails'])}`);
    else if (method === 'Log.entryAdded' && (params['entry'] as { level?: string }).level === 'error')
      errors.push(`log: ${JSON.stringify(params['entry'])}`);
    else if (method === 'Network.requestWillBeSent') {
      const u = (params['request'] as { url: string }).url;
      if (!u.startsWith('file:') && !u.startsWith('data:') && u !== 'about:blank') externalRequests.push(u);
    } else if (method === 'Page.loadEventFired') loaded = true;
  });
  const { targetId } = await send<{ targetId: string }>('Target.createTarget', { url: 'about:blank' });
  const { sessionId } = await send<{ sessionId: string }>('Target.attachToTarget', { targetId, flatten: true });
  for (const domain of ['Runtime', 'Log', 'Page', 'Network']) await send(`${domain}.enable`, {}, sessionId);
  await send('Page.navigate', { url }, sessionId);
  const deadline = performance.now() + 30_000;
  while (!loaded) {
    if (performance.now() > deadline) throw new Error(`${url}: no load event within 30 s`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    errors,
    externalRequests,
    async evaluate<T>(expression: string): Promise<T> {
      const r = await send<{ result: { value: T }; exceptionDetails?: unknown }>(
        'Runtime.evaluate',
        { expression, returnByValue: true },
        sessionId,
      );
      if (r.exceptionDetails) throw new Error(`evaluate failed: ${JSON.stringify(r.exceptionDetails)}`);
      return r.result.value;
    },
    async screenshot(file: string): Promise<void> {
      const { data } = await send<{ data: string }>(
        'Page.captureScreenshot',
        { format: 'png', captureBeyondViewport: true },
        sessionId,
      );
      (await import('node:fs')).writeFileSync(file, Buffer.from(data, 'base64'));
    },
    async close(): Promise<void> {
      await send('Browser.close').catch(() => undefined);
      ws.close();
      if (browser.exitCode === null) await new Promise((r) => browser.once('exit', r));
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
