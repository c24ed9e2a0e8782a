/**
 * Client input is only ever used as data after this check: a tree of plain
 * objects, arrays and primitives, not too deep, with no key that could reach a
 * prototype when copied. class-transformer copies keys onto instances, so a
 * `__proto__` key must never get that far.
 */
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

export interface PlainCheckOptions {
  /** Deepest nesting accepted; default 8 (payloads here are 2 deep). */
  maxDepth?: number;
}

/** Returns a problem description, or null when the value is safe plain data. */
export function findUnsafeInput(value: unknown, options: PlainCheckOptions = {}): string | null {
  const maxDepth = options.maxDepth ?? 8;
  const walk = (v: unknown, path: string, depth: number): string | null => {
    if (v === null || typeof v !== 'object') return null;
    if (depth > maxDepth) return `${path || 'value'} is nested too deeply`;
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        const p = walk(v[i], `${path}[${i}]`, depth + 1);
        if (p) return p;
      }
      return null;
    }
    const proto = Object.getPrototypeOf(v) as unknown;
    if (proto !== Object.prototype && proto !== null) return `${path || 'value'} is not plain data`;
    for (const key of Object.keys(v)) {
      if (FORBIDDEN_KEYS.has(key)) return `${path ? path + '.' : ''}${key} is not allowed`;
      const p = walk((v as Record<string, unknown>)[key], path ? `${path}.${key}` : key, depth + 1);
      if (p) return p;
    }
    return null;
  };
  return walk(value, '', 0);
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return (
    value !== null &&
    typeof value === 'object' &&
    !Array.isArray(value) &&
    [Object.prototype, null].includes(Object.getPrototypeOf(value) as object | null)
  );
}
