/**
 * A loopback HTTP server standing in for the intelligence providers' APIs: each path answers from
 * a script of replies in the documented shapes — or with the failures a real API has: an error
 * status, 429 with Retry-After, no answer at all, a body cut off mid-way.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type Reply =
  | { readonly status?: number; readonly headers?: Readonly<Record<string, string>>; readonly body: string }
  /** Never answers (the client's timeout must fire). */
  | { readonly hang: true }
  /** Announces the whole body, sends the first `bytes` of it, then drops the connection. */
  | { readonly truncate: number; readonly body: string };

export interface Seen {
  readonly method: string;
  readonly path: string;
  readonly url: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
}

export interface IntelServer {
  readonly url: string;
  /** Requests in arrival order. */
  readonly seen: Seen[];
  /** Replies for a path (without query), used in order; the last one repeats. */
  script(path: string, ...replies: Reply[]): void;
  close(): Promise<void>;
}

export async function startIntelServer(): Promise<IntelServer> {
  const scripts = new Map<string, Reply[]>();
  const seen: Seen[] = [];
  const hanging = new Set<ServerResponse>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = req.url ?? '/';
      const path = url.split('?')[0]!;
      seen.push({
        method: req.method ?? 'GET',
        path,
        url,
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      });
      const queue = scripts.get(path);
      const reply = queue && queue.length > 1 ? queue.shift()! : queue?.[0];
      if (!reply) {
        res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"no such path"}');
        return;
      }
      if ('hang' in reply) {
        hanging.add(res);
        return;
      }
      if ('truncate' in reply) {
        const bytes = Buffer.from(reply.body, 'utf8');
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(bytes.length) });
        res.write(bytes.subarray(0, reply.truncate), () => res.socket?.destroy());
        return;
      }
      res.writeHead(reply.status ?? 200, { 'content-type': 'application/json', ...reply.headers }).end(reply.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    script: (path, ...replies) => scripts.set(path, [...replies]),
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of hanging) res.socket?.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** alternative.me `/fng/` reply. */
export function fearGreedBody(points: readonly { value: number; timestamp: number }[]): string {
  return JSON.stringify({
    name: 'Fear and Greed Index',
    data: points.map((p) => ({
      value: String(p.value),
      value_classification:
        p.value < 25 ? 'Extreme Fear' : p.value < 50 ? 'Fear' : p.value < 75 ? 'Greed' : 'Extreme Greed',
      timestamp: String(p.timestamp),
      time_until_update: '3600',
    })),
    metadata: { error: null },
  });
}

/** FRED `fred/series/observations` reply (newest first, as asked with sort_order=desc). */
export function fredBody(observations: readonly { date: string; value: string; released: string }[]): string {
  return JSON.stringify({
    realtime_start: '2026-12-02',
    realtime_end: '2026-12-02',
    observation_start: '1600-01-01',
    observation_end: '9999-12-31',
    units: 'lin',
    output_type: 1,
    file_type: 'json',
    order_by: 'observation_date',
    sort_order: 'desc',
    count: observations.length,
    offset: 0,
    limit: 3,
    observations: observations.map((o) => ({
      realtime_start: o.released,
      realtime_end: '9999-12-31',
      date: o.date,
      value: o.value,
    })),
  });
}

/** OpenAI-compatible chat completion as xAI returns it. */
export function grokBody(content: string, finishReason = 'stop'): string {
  return JSON.stringify({
    id: 'chatcmpl-test',
    object: 'chat.completion',
    created: 1_764_633_600,
    model: 'grok-3-mini',
    choices: [{ index: 0, message: { role: 'assistant', content, refusal: null }, finish_reason: finishReason }],
    usage: { prompt_tokens: 120, completion_tokens: 40, total_tokens: 160 },
    system_fingerprint: 'fp_test',
  });
}

export function rssBody(items: readonly { title: string; date: string; guid: string; description?: string }[]): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Test crypto news</title><link>https://news.example/</link><description>test feed</description>
${items
  .map(
    (i) =>
      `<item><title><![CDATA[${i.title}]]></title><link>https://news.example/${i.guid}</link><guid>${i.guid}</guid><pubDate>${new Date(i.date).toUTCString()}</pubDate><description><![CDATA[${i.description ?? ''}]]></description></item>`,
  )
  .join('\n')}
</channel></rss>`;
}

export function atomBody(entries: readonly { title: string; date: string; id: string }[]): string {
  return `<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Test Atom</title><id>urn:test</id><updated>2026-12-01T00:00:00Z</updated>
${entries.map((e) => `<entry><title>${e.title}</title><id>${e.id}</id><link href="https://atom.example/${e.id}"/><updated>${e.date}</updated><summary>${e.title}</summary></entry>`).join('\n')}
</feed>`;
}
