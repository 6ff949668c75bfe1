// Pure parts of API keys: secrets and ids, model lists, expiry and revocation, the public record,
// and the prompt-size estimate rate limits reserve.
import { expect, test } from 'bun:test'
import { allowsModel, digestAmong, digestOf, newKeyId, newSecret, SHOWN_PREFIX_LENGTH, staticKeyId, toKeyRecord, unusableBecause, type VirtualKey } from '../../src/auth/api-keys'
import { tokensReserved } from '../../src/auth/access-control'

const key: VirtualKey = {
  id: 'key_0123456789abcdef',
  name: 'ci',
  prefix: 'sk-sgl-AbCd',
  models: null,
  rpm: null,
  tpm: null,
  maxConcurrency: null,
  expiresAt: null,
  revoked: false,
  createdAt: '2026-11-23T00:00:00.000Z',
  lastUsedAt: null,
}

test('secrets are sk-sgl- and 43 base64url characters, each different; ids are key_ and 16 hex', () => {
  const a = newSecret()
  expect(a).toMatch(/^sk-sgl-[A-Za-z0-9_-]{43}$/)
  expect(newSecret()).not.toBe(a)
  expect(newKeyId()).toMatch(/^key_[0-9a-f]{16}$/)
  expect(SHOWN_PREFIX_LENGTH).toBe(11)
})

test('a static key is known by the first 8 hex of its digest', () => {
  expect(staticKeyId(digestOf('static-key-0123456789'))).toBe(`static:${digestOf('static-key-0123456789').toString('hex').slice(0, 8)}`)
})

test('digestAmong finds the matching digest and nothing else', () => {
  const known = [digestOf('one-key-0123456789'), digestOf('two-key-0123456789')]
  expect(digestAmong(digestOf('two-key-0123456789'), known)).toBe(known[1])
  expect(digestAmong(digestOf('three-key-0123456789'), known)).toBeUndefined()
})

test('a model list allows its ids and the prefixes of entries ending in *; null allows all', () => {
  expect(allowsModel(null, 'anything')).toBe(true)
  expect(allowsModel(['a', 'qwen/*'], 'a')).toBe(true)
  expect(allowsModel(['a', 'qwen/*'], 'qwen/7b')).toBe(true)
  expect(allowsModel(['a', 'qwen/*'], 'ab')).toBe(false)
  expect(allowsModel([], 'a')).toBe(false)
})

test('revoked and expired keys say why they cannot be used', () => {
  const now = new Date('2026-11-23T12:00:00Z')
  expect(unusableBecause(key, now)).toBeUndefined()
  expect(unusableBecause({ ...key, revoked: true }, now)).toContain('revoked')
  expect(unusableBecause({ ...key, expiresAt: '2026-11-23T12:00:00.000Z' }, now)).toContain('expired at 2026-11-23T12:00:00.000Z')
  expect(unusableBecause({ ...key, expiresAt: '2026-11-23T12:00:01.000Z' }, now)).toBeUndefined()
})

test('the public record is snake_case and holds neither secret nor digest', () => {
  expect(toKeyRecord(key)).toEqual({
    id: key.id,
    name: 'ci',
    prefix: 'sk-sgl-AbCd',
    models: null,
    rpm: null,
    tpm: null,
    max_concurrency: null,
    expires_at: null,
    revoked: false,
    created_at: key.createdAt,
    last_used_at: null,
  })
})

test('a reservation is the prompt text / 4 plus the most the request may generate', () => {
  expect(tokensReserved('chat', { messages: [{ role: 'user', content: 'x'.repeat(40) }], max_tokens: 10 })).toBe(Math.ceil((40 + 4) / 4) + 10)
  expect(tokensReserved('chat', { messages: [{ role: 'user', content: 'abcd' }], max_completion_tokens: 7, max_tokens: 100 })).toBe(Math.ceil(8 / 4) + 7)
  expect(tokensReserved('messages', { system: 'abcd', messages: [{ role: 'user', content: 'abcd' }], max_tokens: 5 })).toBe(Math.ceil(12 / 4) + 5)
  expect(tokensReserved('completions', { prompt: 'x'.repeat(8), max_tokens: 1 })).toBe(3)
  expect(tokensReserved('embeddings', { input: ['abcd', 'abcd'], max_tokens: 50 })).toBe(2)
})

test('images and audio are left out of the prompt estimate', () => {
  const image = { type: 'image_url', image_url: { url: `data:image/png;base64,${'A'.repeat(100_000)}` } }
  expect(tokensReserved('chat', { messages: [{ role: 'user', content: [{ type: 'text', text: 'abcd' }, image] }] })).toBeLessThan(20)
})
