// CORS: off unless the config file lists origins (no access-control-* headers at all); with
// cors.allow_origins, a listed origin gets its origin echoed with Vary: Origin and exposed headers,
// its preflight a 204 with methods, headers and max-age; an unlisted origin's preflight a 403 JSON error.
import { afterAll, beforeAll, expect, test } from 'bun:test'
import { startGateway, type TestGateway } from '../helpers/gateway'
import { configuredGateway, corsHeadersOf, expectOpenAIError, type ConfiguredGateway } from './hostile-fixtures'

const LISTED = 'https://app.example'
const UNLISTED = 'https://evil.example'

const API_KEY = 'cors-test-api-key-0123456789'

let plain: TestGateway
let withCors: ConfiguredGateway
let keyed: ConfiguredGateway
let anyOrigin: ConfiguredGateway
let gw: TestGateway

beforeAll(async () => {
  plain = await startGateway(['--mock'])
  withCors = await configuredGateway(`cors:\n  allow_origins: ['${LISTED}']\n`, ['--mock'])
  keyed = await configuredGateway(`cors:\n  allow_origins: ['${LISTED}']\n`, ['--mock', '--api-key', API_KEY])
  anyOrigin = await configuredGateway(`cors:\n  allow_origins: ['*']\n  max_age_seconds: 120\n`, ['--mock'])
  gw = withCors.gw
})
afterAll(async () => {
  await plain.stop()
  await withCors.stop()
  await keyed.stop()
  await anyOrigin.stop()
})

const preflight = (target: TestGateway, origin: string, path = '/v1/chat/completions') =>
  target.fetch(path, {
    method: 'OPTIONS',
    headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type, authorization' },
  })

test('by default a request with an Origin gets no access-control-* headers', async () => {
  const res = await plain.fetch('/health', { headers: { origin: LISTED } })
  expect(res.status).toBe(200)
  expect(corsHeadersOf(res)).toEqual([])
})

test('by default a preflight is not allowed: no access-control-* headers', async () => {
  const res = await preflight(plain, LISTED)
  expect(corsHeadersOf(res)).toEqual([])
})

test('a listed origin gets its origin echoed, Vary: Origin and exposed headers', async () => {
  const res = await gw.fetch('/health', { headers: { origin: LISTED } })
  expect(res.status).toBe(200)
  expect(res.headers.get('access-control-allow-origin')).toBe(LISTED)
  expect(res.headers.get('vary') ?? '').toMatch(/(^|,\s*)origin(\s*,|$)/i)
  // What the SDKs read in a browser: the request id, when and whether to retry, the rate limits.
  const exposed = (res.headers.get('access-control-expose-headers') ?? '').split(/,\s*/)
  expect(exposed).toEqual(expect.arrayContaining(['x-request-id', 'request-id', 'retry-after', 'x-should-retry', 'x-ratelimit-remaining-requests']))
})

test("a listed origin's error answer carries the CORS headers too", async () => {
  const res = await gw.fetch('/v1/no-such-route', { headers: { origin: LISTED } })
  expect(res.status).toBe(404)
  expect(res.headers.get('access-control-allow-origin')).toBe(LISTED)
})

test("a listed origin's preflight is a 204 with allow-methods, allow-headers and max-age", async () => {
  const res = await preflight(gw, LISTED)
  expect(res.status).toBe(204)
  expect(res.headers.get('access-control-allow-origin')).toBe(LISTED)
  expect(res.headers.get('access-control-allow-methods') ?? '').toContain('POST')
  expect((res.headers.get('access-control-allow-headers') ?? '').toLowerCase()).toContain('content-type')
  expect(res.headers.get('access-control-max-age')).toBe('600')
})

test("an unlisted origin's preflight is a 403 JSON error without CORS headers", async () => {
  const res = await preflight(gw, UNLISTED)
  expect(corsHeadersOf(res)).toEqual([])
  await expectOpenAIError(res, 403)
})

test('an unlisted origin gets no access-control-allow-origin on an ordinary request', async () => {
  const res = await gw.fetch('/health', { headers: { origin: UNLISTED } })
  expect(res.headers.get('access-control-allow-origin')).toBeNull()
})

test('an origin that only starts like a listed one is not listed', async () => {
  const res = await preflight(gw, `${LISTED}.evil.example`)
  expect(res.status).toBe(403)
  expect(corsHeadersOf(res)).toEqual([])
})

test('with auth on, a preflight from a listed origin needs no key', async () => {
  const res = await preflight(keyed.gw, LISTED)
  expect(res.status).toBe(204)
  expect(res.headers.get('access-control-allow-origin')).toBe(LISTED)
})

test("with auth on, a listed origin's 401 carries access-control-allow-origin so the page can read it", async () => {
  const res = await keyed.gw.fetch('/v1/models', { headers: { origin: LISTED } })
  const error = await expectOpenAIError(res, 401)
  expect(error.code).toBe('invalid_api_key')
  expect(res.headers.get('access-control-allow-origin')).toBe(LISTED)
})

test('with auth on, an unlisted origin\'s preflight is still a 403', async () => {
  const res = await preflight(keyed.gw, UNLISTED)
  expect(res.status).toBe(403)
  expect(corsHeadersOf(res)).toEqual([])
})

test('with allow_origins ["*"], any origin\'s preflight is a 204 allowing it, with max-age from cors.max_age_seconds', async () => {
  const res = await preflight(anyOrigin.gw, 'https://anywhere.example')
  expect(res.status).toBe(204)
  expect(['*', 'https://anywhere.example']).toContain(res.headers.get('access-control-allow-origin')!)
  expect(res.headers.get('access-control-max-age')).toBe('120')
})
