/**
 * Event type patterns: segments split on `.`; `*` matches exactly one segment,
 * and a `*` in last place matches all the rest (one or more segments). One
 * matcher serves in-process subscribers, socket `types` filters and SSE filters.
 */
const SEGMENT = /^(\*|[A-Za-z0-9_-]{1,64})$/;
const MAX_SEGMENTS = 8;
const MAX_PATTERN_LENGTH = 200;

export type Matcher = (type: string) => boolean;

export function isValidPattern(pattern: unknown): pattern is string {
  if (typeof pattern !== 'string' || pattern.length === 0 || pattern.length > MAX_PATTERN_LENGTH) {
    return false;
  }
  const segments = pattern.split('.');
  return segments.length <= MAX_SEGMENTS && segments.every((s) => SEGMENT.test(s));
}

export function compilePattern(pattern: string): Matcher {
  if (!isValidPattern(pattern))
    throw new Error(`invalid event pattern: ${JSON.stringify(pattern)}`);
  const segments = pattern.split('.');
  const last = segments.length - 1;
  const tail = segments[last] === '*';
  if (!segments.includes('*')) return (type) => type === pattern;
  return (type) => {
    const parts = type.split('.');
    if (tail ? parts.length < segments.length : parts.length !== segments.length) return false;
    for (let i = 0; i < segments.length; i++) {
      if (segments[i] !== '*' && segments[i] !== parts[i]) return false;
    }
    return true;
  };
}

export function matchesPattern(pattern: string, type: string): boolean {
  return compilePattern(pattern)(type);
}

const uniqueSorted = (patterns: readonly string[] | undefined): string[] =>
  [...new Set(patterns ?? [])].sort();
/** The same for equal sets of patterns; `*` for none (everything). */
const keyOf = (unique: readonly string[]): string => (unique.length === 0 ? '*' : unique.join(','));

/** Distinct filters kept for sharing; past this, new ones are not kept (still correct). */
const MAX_INTERNED = 1000;
const INTERNED = new Map<string, TypeFilter>();

/**
 * A set of patterns (a client's `types`): matches when any pattern does.
 * `key` is the same for equal sets, so viewers with identical filters can share
 * one encoded frame.
 */
export class TypeFilter {
  readonly key: string;
  private readonly matchers: Matcher[];
  private cache: Map<string, boolean> | null = null;

  /**
   * The filter for `patterns`, shared with every subscription asking for the
   * same set (filters are immutable but for their match cache): one lives as
   * long as each subscription, and nearly all ask for everything.
   */
  static of(patterns: readonly string[] | undefined): TypeFilter {
    const unique = uniqueSorted(patterns);
    const known = INTERNED.get(keyOf(unique));
    if (known) return known;
    const filter = new TypeFilter(unique);
    if (INTERNED.size < MAX_INTERNED) INTERNED.set(filter.key, filter);
    return filter;
  }

  constructor(patterns: readonly string[] | undefined) {
    const unique = uniqueSorted(patterns);
    this.key = keyOf(unique);
    this.matchers = unique.map(compilePattern);
  }

  get matchesAll(): boolean {
    return this.matchers.length === 0;
  }

  matches(type: string): boolean {
    if (this.matchers.length === 0) return true;
    this.cache ??= new Map();
    let hit = this.cache.get(type);
    if (hit === undefined) {
      hit = this.matchers.some((m) => m(type));
      // Event types are a closed set, so this cache stays small.
      if (this.cache.size < 256) this.cache.set(type, hit);
    }
    return hit;
  }
}
