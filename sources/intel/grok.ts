/**
 * Sentiment per asset from xAI's Grok through its OpenAI-compatible chat completions endpoint
 * (`POST /v1/chat/completions`, `Authorization: Bearer $XAI_API_KEY`), asking for structured JSON
 * (`response_format: json_schema`). The reply's `choices[0].message.content` must be that JSON,
 * complete (`finish_reason: "stop"`) and valid — anything else is a dead letter, not a signal.
 * An answer is observed when it was received: the model's view is knowable no earlier.
 */
import type { Observable } from 'rxjs';
import { z } from 'zod';
import type { IntelEvent, IntelObservation } from '../../operators/intelligence';
import { parseJson } from './fearGreed';
import { MalformedReply, pollProvider, type PollConfig } from './poll';

export const XAI_BASE_URL = 'https://api.x.ai';

export interface GrokSourceConfig extends Omit<PollConfig, 'source' | 'provider' | 'requests' | 'parse' | 'cacheTier'> {
  readonly baseUrl?: string;
  readonly apiKey: string;
  /** Model id. Default `grok-3-mini`. */
  readonly model?: string;
  /** Base assets to score (`BTC`, `ETH`). */
  readonly assets: readonly string[];
}

const answerSchema = z.strictObject({
  assets: z
    .array(
      z.strictObject({
        asset: z.string(),
        score: z.number().min(-1).max(1),
        confidence: z.number().min(0).max(1),
        summary: z.string().max(500).optional(),
      }),
    )
    .min(1),
});

/** The JSON schema sent with the request (the same shape `answerSchema` checks on the way back). */
function responseFormat(assets: readonly string[]): unknown {
  return {
    type: 'json_schema',
    json_schema: {
      name: 'crypto_sentiment',
      strict: true,
      schema: {
        type: 'object',
        additionalProperties: false,
        required: ['assets'],
        properties: {
          assets: {
            type: 'array',
            items: {
              type: 'object',
              additionalProperties: false,
              required: ['asset', 'score', 'confidence'],
              properties: {
                asset: { type: 'string', enum: assets },
                score: { type: 'number', minimum: -1, maximum: 1 },
                confidence: { type: 'number', minimum: 0, maximum: 1 },
                summary: { type: 'string' },
              },
            },
          },
        },
      },
    },
  };
}

export function makeGrokSource(config: GrokSourceConfig): Observable<IntelEvent> {
  const base = (config.baseUrl ?? XAI_BASE_URL).replace(/\/$/, '');
  const body = JSON.stringify({
    model: config.model ?? 'grok-3-mini',
    temperature: 0,
    messages: [
      {
        role: 'system',
        content:
          'You rate current crypto market sentiment on X/Twitter, Reddit and news. Answer only with the JSON the schema describes: per asset a score from -1 (very bearish) to 1 (very bullish) and your confidence from 0 to 1.',
      },
      { role: 'user', content: `Assets: ${config.assets.join(', ')}. Sentiment right now?` },
    ],
    response_format: responseFormat(config.assets),
  });
  return pollProvider({
    ...config,
    source: 'sentiment',
    provider: 'grok',
    cacheTier: 'hot',
    requests: [
      {
        url: `${base}/v1/chat/completions`,
        method: 'POST',
        headers: { authorization: `Bearer ${config.apiKey}`, 'content-type': 'application/json' },
        body,
      },
    ],
    parse: (text, _request, tsInit) => parseGrok(text, config.assets, tsInit),
  });
}

/** One sentiment observation per requested asset the model scored. */
export function parseGrok(text: string, assets: readonly string[], tsInit: number): IntelObservation[] {
  const json = parseJson(text) as { choices?: { message?: { content?: unknown }; finish_reason?: unknown }[] };
  const choice = json.choices?.[0];
  if (!choice || typeof choice.message?.content !== 'string')
    throw new MalformedReply('expected choices[0].message.content');
  if (choice.finish_reason !== 'stop')
    throw new MalformedReply(`answer incomplete (finish_reason: ${String(choice.finish_reason)})`);
  let content: unknown;
  try {
    content = JSON.parse(choice.message.content);
  } catch (err) {
    throw new MalformedReply(`message content is not JSON (${(err as Error).message})`);
  }
  const answer = answerSchema.safeParse(content);
  if (!answer.success)
    throw new MalformedReply(
      `message content does not match the schema: ${answer.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`,
    );
  const wanted = new Set(assets);
  return answer.data.assets
    .filter((a) => wanted.has(a.asset))
    .map((a) => ({
      kind: 'intel',
      source: 'sentiment',
      provider: 'grok',
      metric: 'llm-sentiment',
      asset: a.asset,
      score: a.score,
      confidence: a.confidence,
      tsObserved: tsInit,
      tsInit,
    }));
}
