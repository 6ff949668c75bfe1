// A seeded, deterministic source of hostile input for fuzz tests: a small PRNG (mulberry32) and
// generators of awkward values (wrong types, out-of-range numbers, unicode traps, oversized strings,
// deep nesting), malformed JSON texts, and mutations of a valid body at a random field.

/** mulberry32: a tiny 32-bit PRNG; the same seed always gives the same sequence. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export class Rng {
  private readonly next: () => number
  constructor(readonly seed: number) {
    this.next = mulberry32(seed)
  }
  float(): number {
    return this.next()
  }
  /** An integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1))
  }
  chance(p: number): boolean {
    return this.next() < p
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!
  }
  /** One of the weighted choices: [weight, value][]. */
  weighted<T>(choices: readonly (readonly [number, T])[]): T {
    const total = choices.reduce((sum, [w]) => sum + w, 0)
    let at = this.next() * total
    for (const [w, value] of choices) if ((at -= w) < 0) return value
    return choices[choices.length - 1]![1]
  }
  /** Letters and digits, `n` long. */
  word(n = this.int(1, 12)): string {
    const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789'
    let s = ''
    for (let i = 0; i < n; i++) s += alphabet[this.int(0, alphabet.length - 1)]
    return s
  }
}

/** Sizes the generators aim around (the gateway's configured limits). */
export interface FuzzLimits {
  readonly maxStringChars: number
  readonly maxMessages: number
  readonly maxJsonDepth: number
  readonly maxBodyBytes: number
}

export const HOSTILE_NUMBERS: readonly number[] = [
  0, -0, -1, -5, 1, 1.5, 0.1, 1e-320, 2 ** 31, 2 ** 31 - 1, 2 ** 32, 2 ** 53 + 1, -(2 ** 53) - 1, 1e308, -1e308, Number.MAX_VALUE, 9e15,
]

export const HOSTILE_STRINGS: readonly string[] = [
  '',
  ' ',
  '\u0000',
  'a\u0000b',
  '\u202eRTL override\u202c',
  'zero\u200bwidth\u200d\ufeff',
  '😀🙃👩‍👩‍👧‍👦',
  '\ud800',
  'lone \udfff low',
  'e\u0301'.repeat(50),
  '<script>alert(1)</script>',
  "'; DROP TABLE sessions; --",
  '../../etc/passwd',
  '%00%zz%E0%A4',
  '\r\n\r\nX-Injected: 1',
  'ｆｕｌｌｗｉｄｔｈ',
  'null',
  'true',
  '1e308',
  'NaN',
  '-1',
  '2021-13-45T99:99:99Z',
  '{"nested": "json"}',
  '\\u0000',
]

export function hostileString(rng: Rng, limits: FuzzLimits): string {
  return rng.weighted<() => string>([
    [6, () => rng.pick(HOSTILE_STRINGS)],
    [2, () => 'x'.repeat(rng.int(limits.maxStringChars - 2, limits.maxStringChars + 2))],
    [1, () => '😀'.repeat(rng.int(limits.maxStringChars / 2, limits.maxStringChars + 10))],
    [1, () => 'y'.repeat(rng.int(limits.maxStringChars + 1, limits.maxStringChars * 3))],
    [3, () => rng.word()],
  ])()
}

/** `{"a":{"a":...}}` as a value `depth` levels deep. */
export function nestedObject(depth: number, leaf: unknown = 1): unknown {
  let value = leaf
  for (let i = 0; i < depth; i++) value = { a: value }
  return value
}

/** A value of any type, sometimes hostile, at most `depth` levels of containers. */
export function hostileValue(rng: Rng, limits: FuzzLimits, depth = 2): unknown {
  return rng.weighted<() => unknown>([
    [3, () => null],
    [2, () => rng.chance(0.5)],
    [4, () => rng.pick(HOSTILE_NUMBERS)],
    [2, () => String(rng.pick(HOSTILE_NUMBERS))],
    [5, () => hostileString(rng, limits)],
    [2, () => (depth > 0 ? Array.from({ length: rng.int(0, 4) }, () => hostileValue(rng, limits, depth - 1)) : [])],
    [2, () => (depth > 0 ? Object.fromEntries(Array.from({ length: rng.int(0, 3) }, () => [rng.word(), hostileValue(rng, limits, depth - 1)])) : {})],
    [1, () => nestedObject(rng.int(limits.maxJsonDepth - 2, limits.maxJsonDepth + 8))],
    [1, () => Array.from({ length: rng.int(100, 2000) }, (_, i) => i)],
  ])()
}

/** A path into a JSON value: keys and array indexes. */
type Path = (string | number)[]

function pathsOf(value: unknown, prefix: Path = [], out: Path[] = [], depth = 0): Path[] {
  if (depth > 6 || value === null || typeof value !== 'object') return out
  for (const [key, child] of Object.entries(value)) {
    const path = [...prefix, Array.isArray(value) ? Number(key) : key]
    out.push(path)
    pathsOf(child, path, out, depth + 1)
  }
  return out
}

function setAt(root: unknown, path: Path, value: unknown, remove: boolean): void {
  let at = root as Record<string | number, unknown>
  for (const key of path.slice(0, -1)) at = at[key] as Record<string | number, unknown>
  const last = path[path.length - 1]!
  if (remove && !Array.isArray(at)) delete at[last]
  else at[last] = value
}

/**
 * A copy of `valid` with one thing changed: a field (at any depth) replaced by a hostile value or
 * removed, an unknown field added, the whole body swapped for another type, or left valid.
 * `frozen` names top-level fields never to touch (their values must stay safe to act on).
 */
export function mutateBody(rng: Rng, limits: FuzzLimits, valid: Record<string, unknown>, frozen: readonly string[] = []): unknown {
  const body = structuredClone(valid)
  const paths = pathsOf(body).filter((p) => !frozen.includes(String(p[0])))
  return rng.weighted<() => unknown>([
    [4, () => body],
    [8, () => (paths.length ? (setAt(body, rng.pick(paths), hostileValue(rng, limits), false), body) : body)],
    [2, () => (paths.length ? (setAt(body, rng.pick(paths), undefined, true), body) : body)],
    [1, () => ({ ...body, [rng.pick(['__proto__', 'constructor', rng.word(), 'x'.repeat(300)])]: hostileValue(rng, limits) })],
    [1, () => rng.pick<unknown>([null, [], [body], 'body', 42, true])],
  ])()
}

/** `n` brackets deep, as text (JSON.stringify would overflow the stack first). */
export function deepBrackets(n: number, open = '[', close = ']'): string {
  return open.repeat(n) + close.repeat(n)
}

const INVALID_UTF8 = [0xc3, 0x28, 0xa0, 0xa1, 0xe2, 0x28, 0xa1, 0xf0, 0x28, 0x8c, 0xbc, 0xff, 0xfe, 0xed, 0xa0, 0x80]

/** A body text that is not valid JSON, or valid JSON of an unusual kind, made from a valid body. */
export function malformedBody(rng: Rng, valid: unknown): string | Uint8Array {
  const text = JSON.stringify(valid)
  return rng.weighted<() => string | Uint8Array>([
    [3, () => text.slice(0, rng.int(0, Math.max(0, text.length - 1)))],
    [2, () => text + rng.pick(['}', ']', ',', ' garbage', '\u0000', '{}', '\n{"a":1}'])],
    [2, () => '\ufeff' + text],
    [2, () => text.replace(/(:\s*)(\d+|"[^"]*")/, '$1' + rng.pick(['NaN', 'Infinity', '-Infinity', 'undefined', '1e400', '-1e400', '0x10', '01', '.5', "'single'"]))],
    [1, () => text.replace(/"([^"]*)"/, '"\\ud800$1"')],
    [1, () => text.replace(/"([^"]*)"/, '"\\uZZZZ$1"')],
    [1, () => text.replace(/,/, ',,')],
    [1, () => `{"model": "m", "messages": [${deepBrackets(rng.int(1000, 100_000))}]}`],
    [1, () => ((n) => `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`)(rng.int(5000, 40_000))],
    [1, () => rng.pick(['', ' ', 'null', '[]', '"string"', '123', 'true', '{', '}', '{"a":1,}', "{'a':1}", '{"a" 1}', '[1,2'])],
    [2, () => new Uint8Array([...Buffer.from(text.slice(0, text.length - 3)), ...INVALID_UTF8.slice(0, rng.int(1, INVALID_UTF8.length)), ...Buffer.from('"}]}')])],
    [1, () => new Uint8Array(Array.from({ length: rng.int(1, 256) }, () => rng.int(0, 255)))],
  ])()
}

/** A header value fetch accepts (Latin-1 without control characters), made from any string. */
export function headerSafe(value: string): string {
  return value.replace(/[^\t\x20-\x7e\x80-\xff]/g, '?').trim()
}
