/**
 * The messages the roles exchange over Kafka, and their checks. A message that fails a check is
 * not used: the consumer sends it to the dead-letter topic with the reason these functions give
 * (which names the field, what was expected and what was found), then commits it.
 *
 * - `<prefix>.bars`, key = symbol, one partition per symbol of the universe: {@link Bar}s, then an
 *   {@link EndOfData} when a replay has published its last bar.
 * - `<prefix>.orders`, key = account: one {@link DecisionMessage} per executor step whose bar the
 *   worker owns — the order commands decided on that bar (often none).
 * - `<prefix>.venue-events`, key = account: one {@link VenueStepMessage} per executor step — what the
 *   venue did with the previous step's commands and with this step's bar, in the venue's order.
 */
import { isTimeframe, type Bar, type OrderCommand, type VenueOutput } from '../operators/types';
import { decodeKafkaValue } from './kafkaSource';

/** A replay published every bar of this symbol. */
export interface EndOfData {
  readonly kind: 'end-of-data';
  readonly symbol: string;
  /** Bars published before this marker. */
  readonly bars: number;
}

export type BarMessage = Bar | EndOfData;

/** The commands a decision worker sent for one executor step (the bar of `symbol` at `tsEvent`). */
export interface DecisionMessage {
  readonly kind: 'decision';
  readonly account: string;
  readonly seq: number;
  readonly symbol: string;
  readonly tsEvent: number;
  /** Which worker published it (for the audit; any owner's decision of a step is the same). */
  readonly worker: string;
  readonly commands: readonly OrderCommand[];
}

/** One executor step: the venue's outputs for the previous step's commands, then for this step's bar. */
export interface VenueStepMessage {
  readonly kind: 'venue-step';
  readonly account: string;
  readonly seq: number;
  /** The bar of this step; null in the last step (only the last commands, then the end). */
  readonly bar: Bar | null;
  /** What the venue did with the previous step's commands (accepted, rejected…). */
  readonly commandEvents: readonly VenueOutput[];
  /** What the venue did at this step's bar (fills), ending with the bar itself. */
  readonly barEvents: readonly VenueOutput[];
  /** True in the last step: the market data ended. */
  readonly end: boolean;
}

export type Checked<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: string };

const VENUE_EVENT_KINDS = new Set([
  'order-accepted',
  'order-rejected',
  'fill',
  'order-canceled',
  'order-unknown',
  'bar',
  'trade',
]);
const ORDER_TYPES = new Set([
  'market',
  'limit',
  'stop-market',
  'stop-limit',
  'take-profit-market',
  'take-profit-limit',
  'trailing-stop',
]);

class Invalid extends Error {}

function field(value: unknown, path: string): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw new Invalid(`${path}: expected an object, found ${describe(value)}`);
  return value as Record<string, unknown>;
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (typeof value === 'bigint') return `${value}n`;
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function str(o: Record<string, unknown>, key: string, path: string): string {
  const v = o[key];
  if (typeof v !== 'string' || v.length === 0)
    throw new Invalid(`${path}.${key}: expected a string, found ${describe(v)}`);
  return v;
}

function num(o: Record<string, unknown>, key: string, path: string): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isFinite(v))
    throw new Invalid(`${path}.${key}: expected a finite number, found ${describe(v)}`);
  return v;
}

function units(o: Record<string, unknown>, key: string, path: string): bigint {
  const v = o[key];
  if (typeof v !== 'bigint')
    throw new Invalid(`${path}.${key}: expected an exact amount ({"$bigint":…}), found ${describe(v)}`);
  return v;
}

function parse<T>(text: string | null, check: (value: unknown) => T): Checked<T> {
  if (text === null) return { ok: false, reason: 'empty value (tombstone)' };
  let value: unknown;
  try {
    value = decodeKafkaValue(text);
  } catch (err) {
    return { ok: false, reason: `not JSON: ${(err as Error).message}` };
  }
  try {
    return { ok: true, value: check(value) };
  } catch (err) {
    if (err instanceof Invalid) return { ok: false, reason: err.message };
    throw err;
  }
}

function checkBar(value: unknown, path: string): Bar {
  const o = field(value, path);
  if (o['kind'] !== 'bar') throw new Invalid(`${path}.kind: expected "bar", found ${describe(o['kind'])}`);
  const timeframe = str(o, 'timeframe', path);
  if (!isTimeframe(timeframe))
    throw new Invalid(`${path}.timeframe: expected a timeframe like 1h, found ${describe(timeframe)}`);
  for (const key of ['tsOpen', 'tsEvent', 'open', 'high', 'low', 'close', 'volume', 'trades']) num(o, key, path);
  str(o, 'venue', path);
  str(o, 'symbol', path);
  return o as unknown as Bar;
}

function checkCommand(value: unknown, path: string): OrderCommand {
  const o = field(value, path);
  switch (o['kind']) {
    case 'order': {
      for (const key of ['clientOrderId', 'intentId', 'signalId', 'symbol', 'configHash']) str(o, key, path);
      if (o['side'] !== 'buy' && o['side'] !== 'sell')
        throw new Invalid(`${path}.side: expected "buy" or "sell", found ${describe(o['side'])}`);
      if (!ORDER_TYPES.has(o['type'] as string))
        throw new Invalid(`${path}.type: expected an order type, found ${describe(o['type'])}`);
      if (units(o, 'qty', path) <= 0n) throw new Invalid(`${path}.qty: expected a positive amount, found ${o['qty']}`);
      num(o, 'refPrice', path);
      num(o, 'tsEvent', path);
      if (typeof o['reducesRisk'] !== 'boolean')
        throw new Invalid(`${path}.reducesRisk: expected true or false, found ${describe(o['reducesRisk'])}`);
      return o as unknown as OrderCommand;
    }
    case 'cancel':
      str(o, 'clientOrderId', path);
      str(o, 'symbol', path);
      num(o, 'tsEvent', path);
      return o as unknown as OrderCommand;
    case 'cancel-all':
      num(o, 'tsEvent', path);
      return o as unknown as OrderCommand;
    default:
      throw new Invalid(`${path}.kind: expected "order", "cancel" or "cancel-all", found ${describe(o['kind'])}`);
  }
}

function seqOf(o: Record<string, unknown>, path: string): number {
  const seq = num(o, 'seq', path);
  if (!Number.isInteger(seq) || seq < 1) throw new Invalid(`${path}.seq: expected a whole number ≥ 1, found ${seq}`);
  return seq;
}

/** A message of the bars topic: a bar or the end-of-data marker of a replay. */
export function parseBarMessage(text: string | null): Checked<BarMessage> {
  return parse(text, (value) => {
    const o = field(value, 'bar message');
    if (o['kind'] === 'end-of-data') {
      str(o, 'symbol', 'end-of-data');
      num(o, 'bars', 'end-of-data');
      return o as unknown as EndOfData;
    }
    return checkBar(o, 'bar');
  });
}

/** A message of the orders topic. */
export function parseDecisionMessage(text: string | null): Checked<DecisionMessage> {
  return parse(text, (value) => {
    const o = field(value, 'decision');
    if (o['kind'] !== 'decision') throw new Invalid(`decision.kind: expected "decision", found ${describe(o['kind'])}`);
    str(o, 'account', 'decision');
    seqOf(o, 'decision');
    str(o, 'symbol', 'decision');
    num(o, 'tsEvent', 'decision');
    str(o, 'worker', 'decision');
    const commands = o['commands'];
    if (!Array.isArray(commands)) throw new Invalid(`decision.commands: expected a list, found ${describe(commands)}`);
    commands.forEach((c, i) => checkCommand(c, `decision.commands[${i}]`));
    return o as unknown as DecisionMessage;
  });
}

/** A message of the venue-events topic. */
export function parseVenueStepMessage(text: string | null): Checked<VenueStepMessage> {
  return parse(text, (value) => {
    const o = field(value, 'venue step');
    if (o['kind'] !== 'venue-step')
      throw new Invalid(`venue step.kind: expected "venue-step", found ${describe(o['kind'])}`);
    str(o, 'account', 'venue step');
    seqOf(o, 'venue step');
    if (o['bar'] !== null) checkBar(o['bar'], 'venue step.bar');
    if (typeof o['end'] !== 'boolean')
      throw new Invalid(`venue step.end: expected true or false, found ${describe(o['end'])}`);
    for (const list of ['commandEvents', 'barEvents']) {
      const events = o[list];
      if (!Array.isArray(events)) throw new Invalid(`venue step.${list}: expected a list, found ${describe(events)}`);
      events.forEach((e, i) => {
        const path = `venue step.${list}[${i}]`;
        const event = field(e, path);
        if (!VENUE_EVENT_KINDS.has(event['kind'] as string))
          throw new Invalid(`${path}.kind: expected a venue event, found ${describe(event['kind'])}`);
        if (event['kind'] === 'fill')
          for (const key of ['qty', 'price', 'notional', 'fee', 'leavesQty']) units(event, key, path);
      });
    }
    return o as unknown as VenueStepMessage;
  });
}
