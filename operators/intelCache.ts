/**
 * The two limits every intelligence driver obeys, as plain state driven by the caller's clock
 * (the driver's scheduler), so a simulated week runs in virtual time: a TTL cache in the spec's
 * tiers (§4.4: hot 60 s, warm 5 min, cold 1 h) and a daily call budget per capital tier (§3.5).
 */
import type { Tier } from './selectTier';

export type CacheTier = 'hot' | 'warm' | 'cold';
export const CACHE_TTL_MS: Readonly<Record<CacheTier, number>> = { hot: 60_000, warm: 300_000, cold: 3_600_000 };

interface Entry<V> {
  readonly value: V;
  readonly expires: number;
  readonly bytes: number;
}

/** Answers by key until they expire; expired entries are swept on every `set`. */
export class TtlCache<V> {
  private readonly entries = new Map<string, Entry<V>>();
  private heldBytes = 0;
  hits = 0;
  misses = 0;

  /** The value stored under `key` unless it expired by `now`. */
  get(key: string, now: number): V | undefined {
    const e = this.entries.get(key);
    if (e && e.expires > now) {
      this.hits++;
      return e.value;
    }
    this.misses++;
    return undefined;
  }

  /** Stores `value` until `now + ttlMs`; `bytes` is its size as received (for the memory report). */
  set(key: string, value: V, ttlMs: number, now: number, bytes = 0): void {
    this.sweep(now);
    const old = this.entries.get(key);
    if (old) this.heldBytes -= old.bytes;
    this.entries.set(key, { value, expires: now + ttlMs, bytes });
    this.heldBytes += bytes;
  }

  /** Drops every entry expired by `now`. */
  sweep(now: number): void {
    for (const [key, e] of this.entries) {
      if (e.expires <= now) {
        this.entries.delete(key);
        this.heldBytes -= e.bytes;
      }
    }
  }

  get size(): number {
    return this.entries.size;
  }

  /** Bytes of the bodies held. */
  get bytes(): number {
    return this.heldBytes;
  }
}

/** Calls a day a provider may take, per capital tier. */
export type TierBudget = Readonly<Record<Tier, number>>;

/** Counts calls per UTC day against a limit. */
export class DailyBudget {
  private day = Number.NaN;
  private used = 0;
  /** Calls per UTC day, all days (for the report). */
  readonly history = new Map<number, number>();

  constructor(readonly limit: number) {
    if (!(Number.isInteger(limit) && limit >= 0))
      throw new RangeError(`DailyBudget: limit must be an integer ≥ 0, found ${limit}`);
  }

  /** Takes one call if today's budget has one left at `now`; false when it is spent. */
  take(now: number): boolean {
    this.roll(now);
    if (this.used >= this.limit) return false;
    this.used++;
    this.history.set(this.day, this.used);
    return true;
  }

  /** Calls left today at `now`. */
  left(now: number): number {
    this.roll(now);
    return this.limit - this.used;
  }

  private roll(now: number): void {
    const day = Math.floor(now / 86_400_000);
    if (day !== this.day) {
      this.day = day;
      this.used = 0;
    }
  }
}
