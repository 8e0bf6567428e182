/**
 * News from RSS 2.0 / Atom feeds, parsed by rss-parser, scored locally by VADER (the published
 * lexicon and rules of Hutto & Gilbert, 2014, through the vader-sentiment package — no network, no
 * model download), with the coins each headline names. An item is observed at its publish date
 * (`pubDate` / `updated`), never later than we received it; an undated item when we received it.
 */
import type { Observable } from 'rxjs';
import Parser from 'rss-parser';
import vader from 'vader-sentiment';
import type { IntelEvent, IntelObservation } from '../../operators/intelligence';
import { MalformedReply, pollProvider, type PollConfig } from './poll';

/** Names and tickers per base asset; a headline naming none is about the whole market. */
export const COIN_NAMES: Readonly<Record<string, RegExp>> = {
  BTC: /\b(bitcoin|btc|xbt)\b/i,
  ETH: /\b(ethereum|ether|eth)\b/i,
  SOL: /\b(solana|sol)\b/i,
  XRP: /\b(xrp|ripple)\b/i,
  BNB: /\b(bnb|binance coin)\b/i,
  ADA: /\b(cardano|ada)\b/i,
  DOGE: /\b(dogecoin|doge)\b/i,
  LTC: /\b(litecoin|ltc)\b/i,
  DOT: /\b(polkadot)\b/i,
  AVAX: /\b(avalanche|avax)\b/i,
  LINK: /\b(chainlink)\b/i,
};

export interface NewsSourceConfig extends Omit<PollConfig, 'source' | 'provider' | 'requests' | 'parse' | 'cacheTier'> {
  readonly feeds: readonly string[];
}

export function makeNewsSource(config: NewsSourceConfig): Observable<IntelEvent> {
  const parser = new Parser();
  return pollProvider({
    ...config,
    source: 'news',
    provider: 'rss',
    cacheTier: 'hot',
    requests: config.feeds.map((url) => ({ url })),
    parse: (body, request, tsInit) => parseFeed(parser, body, request.url, tsInit),
  });
}

/** The coins a text names (by name or ticker). */
export function extractCoins(text: string): string[] {
  return Object.entries(COIN_NAMES)
    .filter(([, re]) => re.test(text))
    .map(([coin]) => coin);
}

/** VADER's compound score of a text, −1..1. */
export function scoreText(text: string): number {
  return vader.SentimentIntensityAnalyzer.polarity_scores(text).compound;
}

/** Every item of a feed as one observation per coin it names (or one market-wide). */
export async function parseFeed(
  parser: Parser,
  body: string,
  feedUrl: string,
  tsInit: number,
): Promise<IntelObservation[]> {
  let feed: Parser.Output<Record<string, unknown>>;
  try {
    feed = await parser.parseString(body);
  } catch (err) {
    throw new MalformedReply(`not an RSS/Atom feed (${(err as Error).message})`, { cause: err });
  }
  const host = hostOf(feedUrl);
  const out: IntelObservation[] = [];
  for (const item of feed.items) {
    const title = (item.title ?? '').trim();
    if (title === '') continue;
    const text = `${title}. ${(item.contentSnippet ?? '').slice(0, 400)}`;
    const published = item.isoDate ? Date.parse(item.isoDate) : Number.NaN;
    const tsObserved = Number.isNaN(published) ? tsInit : Math.min(published, tsInit);
    const compound = scoreText(text);
    const id = item.guid ?? item.link ?? title;
    const coins = extractCoins(text);
    for (const asset of coins.length > 0 ? coins : [null]) {
      out.push({
        kind: 'intel',
        source: 'news',
        provider: `rss:${host}`,
        metric: 'headline',
        asset,
        score: compound,
        // A neutral headline says little; a clearly worded one more. Never full: one headline.
        confidence: 0.25 + 0.5 * Math.abs(compound),
        tsObserved,
        tsInit,
        ref: `${id}|${asset ?? '*'}`,
      });
    }
  }
  return out;
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}
