// The span exporter's fetch transport against real loopback collectors: it sends the configured
// headers and its own User-Agent, gzips when asked, reads the collector's answer as the SDK's
// node-http transport does (success, retryable 429/502/503/504 with Retry-After, failure with the
// status and body), and retries within the export timeout.
import { afterEach, expect, test } from 'bun:test'
import { OTLPExporterError } from '@opentelemetry/otlp-exporter-base'
import { FetchTransport, isRetryableStatus, retryAfterMs } from '../../src/telemetry/otlp-fetch-transport'
import { VERSION } from '../../src/version'
import { Cleanup } from '../helpers/telemetry'

const cleanup = new Cleanup()
afterEach(() => cleanup.run())

interface Seen {
  readonly at: number
  readonly headers: Headers
  readonly body: Uint8Array
}

/** A collector answering each request with the next of `answers` (the last one repeats). */
function collector(answers: (() => Response | Promise<Response>)[]) {
  const seen: Seen[] = []
  const server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    async fetch(req) {
      seen.push({ at: performance.now(), headers: req.headers, body: new Uint8Array(await req.arrayBuffer()) })
      return answers[Math.min(seen.length, answers.length) - 1]!()
    },
  })
  cleanup.defer(() => server.stop(true))
  return { url: `http://127.0.0.1:${server.port}/v1/traces`, seen }
}

const transport = (url: string, compression = 'none', headers: Record<string, string> = {}) =>
  new FetchTransport({ url, headers: async () => ({ 'Content-Type': 'application/x-protobuf', ...headers }), compression, userAgent: undefined })

const ok = () => new Response(new Uint8Array([1, 2, 3]), { headers: { 'content-type': 'application/x-protobuf' } })

test('a successful export carries the body, the configured headers and the gateway as User-Agent; the answer is returned', async () => {
  const c = collector([ok])
  const result = await transport(c.url, 'none', { 'x-tenant': 'blue' }).send(new Uint8Array([9, 8, 7]), 2000)
  expect(result).toEqual({ status: 'success', data: new Uint8Array([1, 2, 3]) })
  expect(c.seen).toHaveLength(1)
  expect([...c.seen[0]!.body]).toEqual([9, 8, 7])
  expect(c.seen[0]!.headers.get('content-type')).toBe('application/x-protobuf')
  expect(c.seen[0]!.headers.get('x-tenant')).toBe('blue')
  expect(c.seen[0]!.headers.get('user-agent')).toBe(`sagellm-gateway/${VERSION}`)
})

test('with gzip compression the body is gzipped and says so', async () => {
  const c = collector([ok])
  const data = new TextEncoder().encode('span '.repeat(200))
  expect((await transport(c.url, 'gzip').send(data, 2000)).status).toBe('success')
  expect(c.seen[0]!.headers.get('content-encoding')).toBe('gzip')
  expect(c.seen[0]!.body.length).toBeLessThan(data.length)
  expect(new TextDecoder().decode(Bun.gunzipSync(c.seen[0]!.body as Uint8Array<ArrayBuffer>))).toBe('span '.repeat(200))
})

test('a refused export is a failure carrying the status and the collector’s answer, not retried', async () => {
  const c = collector([() => new Response('bad spans', { status: 400, statusText: 'Bad Request' })])
  const result = await transport(c.url).send(new Uint8Array([1]), 2000)
  expect(result.status).toBe('failure')
  const error = (result as { error: OTLPExporterError }).error
  expect(error).toBeInstanceOf(OTLPExporterError)
  expect([error.message, error.code, error.data]).toEqual(['Bad Request', 400, 'bad spans'])
  expect(c.seen).toHaveLength(1)
})

test('503 with Retry-After: 1 is retried after a second, and the retry’s success is the result', async () => {
  const c = collector([() => new Response('busy', { status: 503, headers: { 'retry-after': '1' } }), ok])
  const result = await transport(c.url).send(new Uint8Array([1]), 5000)
  expect(result.status).toBe('success')
  expect(c.seen).toHaveLength(2)
  expect(c.seen[1]!.at - c.seen[0]!.at).toBeGreaterThanOrEqual(950)
})

test('a retry that would pass the export timeout is not made: the retryable answer is the result', async () => {
  const c = collector([() => new Response('slow down', { status: 429, headers: { 'retry-after': '30' } })])
  const result = await transport(c.url).send(new Uint8Array([1]), 1000)
  expect(result).toEqual({ status: 'retryable', retryInMillis: 30_000 })
  expect(c.seen).toHaveLength(1)
})

test('a collector that does not answer within the timeout is a retryable timeout', async () => {
  const c = collector([() => Bun.sleep(2000).then(ok)])
  const result = await transport(c.url).send(new Uint8Array([1]), 200)
  expect(result.status).toBe('retryable')
  expect((result as { error?: Error }).error?.message).toBe('Request timed out')
})

test('a refused connection is retryable (and not retried past the timeout)', async () => {
  const closed = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: () => new Response('') })
  const url = `http://127.0.0.1:${closed.port}/v1/traces`
  closed.stop(true)
  const result = await transport(url).send(new Uint8Array([1]), 500)
  expect(result.status).toBe('retryable')
})

test('Retry-After in seconds or as an HTTP date; the statuses the OTLP specification retries', () => {
  const now = Date.parse('2026-12-07T12:00:00Z')
  expect(retryAfterMs(null, now)).toBeUndefined()
  expect(retryAfterMs('3', now)).toBe(3000)
  expect(retryAfterMs('0', now)).toBe(-1)
  expect(retryAfterMs('Mon, 07 Dec 2026 12:00:05 GMT', now)).toBe(5000)
  expect(retryAfterMs('Mon, 07 Dec 2026 11:59:00 GMT', now)).toBe(0)
  expect([400, 401, 404, 413, 429, 500, 502, 503, 504].filter(isRetryableStatus)).toEqual([429, 502, 503, 504])
})

const FIXTURES = `${import.meta.dir}/../fixtures/tls`
const CERT = await Bun.file(`${FIXTURES}/loopback.crt`).text()
const KEY = await Bun.file(`${FIXTURES}/loopback.key`).text()

/** An https collector with the loopback fixture certificate; with `clientCa`, it requires a client certificate signed by it. */
function httpsCollector(clientCa?: string) {
  const seen: string[] = []
  const server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    tls: { cert: CERT, key: KEY, ...(clientCa ? { ca: clientCa, requestCert: true, rejectUnauthorized: true } : {}) },
    async fetch(req) {
      seen.push(req.headers.get('content-type') ?? '')
      await req.arrayBuffer()
      return ok()
    },
  })
  cleanup.defer(() => server.stop(true))
  return { url: `https://127.0.0.1:${server.port}/v1/traces`, seen }
}

test('an https collector whose certificate is not trusted is a failure; trusted through tls.ca (OTEL_EXPORTER_OTLP_CERTIFICATE) it succeeds', async () => {
  const c = httpsCollector()
  const untrusted = await transport(c.url).send(new Uint8Array([1]), 2000)
  expect(untrusted.status).toBe('failure')
  const trusted = new FetchTransport({ url: c.url, headers: async () => ({ 'Content-Type': 'application/x-protobuf' }), compression: 'none', tls: { ca: CERT } })
  expect((await trusted.send(new Uint8Array([1]), 2000)).status).toBe('success')
  expect(c.seen).toEqual(['application/x-protobuf'])
})

test('a collector that requires a client certificate gets the one configured (OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE / _CLIENT_KEY)', async () => {
  const c = httpsCollector(CERT)
  const withoutCert = new FetchTransport({ url: c.url, headers: async () => ({}), compression: 'none', tls: { ca: CERT } })
  expect((await withoutCert.send(new Uint8Array([1]), 1000)).status).not.toBe('success')
  const withCert = new FetchTransport({ url: c.url, headers: async () => ({}), compression: 'none', tls: { ca: CERT, cert: CERT, key: KEY } })
  expect((await withCert.send(new Uint8Array([1]), 2000)).status).toBe('success')
  expect(c.seen).toHaveLength(1)
})

test('a redirect is the collector’s answer, not followed: a failure with its status, and nothing sent elsewhere', async () => {
  const elsewhere = collector([ok])
  for (const status of [301, 302, 307, 308]) {
    const c = collector([() => new Response(null, { status, headers: { location: elsewhere.url } })])
    const result = await transport(c.url, 'none', { 'api-key': 'secret' }).send(new Uint8Array([1]), 2000)
    expect(result.status).toBe('failure')
    expect((result as { error: OTLPExporterError }).error.code).toBe(status)
  }
  expect(elsewhere.seen).toEqual([])
})

test('an answer growing past 4 MiB without a content-length is a failure, and the rest is not read', async () => {
  let pulled = 0
  const c = collector([
    () =>
      new Response(
        new ReadableStream({
          pull(controller) {
            // 64 MiB in all unless the reader stops.
            if (pulled >= 64 * 1024 * 1024) return controller.close()
            pulled += 256 * 1024
            controller.enqueue(new Uint8Array(256 * 1024))
          },
        }),
        { headers: { 'content-type': 'application/x-protobuf' } },
      ),
  ])
  const result = await transport(c.url).send(new Uint8Array([1]), 5000)
  expect(result.status).toBe('failure')
  expect((result as { error: Error }).error.message).toContain('exceeded size limit')
  expect(pulled).toBeLessThan(32 * 1024 * 1024)
})

test('a 200 whose body stops coming is a retryable timeout, not a success', async () => {
  const c = collector([
    () =>
      new Response(
        new ReadableStream({
          start(controller) {
            controller.enqueue(new Uint8Array([1]))
          },
        }),
        { headers: { 'content-type': 'application/x-protobuf' } },
      ),
  ])
  const result = await transport(c.url).send(new Uint8Array([1]), 300)
  expect(result.status).toBe('retryable')
  expect((result as { error?: Error }).error?.message).toBe('Request timed out')
})

test('a collector that keeps answering 503 gets the first attempt and five retries, then the retryable answer is the result', async () => {
  const c = collector([() => new Response('busy', { status: 503, headers: { 'retry-after': '0' } })])
  const result = await transport(c.url).send(new Uint8Array([1]), 5000)
  expect(result.status).toBe('retryable')
  expect(c.seen).toHaveLength(6)
})

test('shutdown stops an export waiting to retry: it fails at once and nothing more is sent', async () => {
  const c = collector([() => new Response('busy', { status: 503, headers: { 'retry-after': '2' } })])
  const t = transport(c.url)
  const sending = t.send(new Uint8Array([1]), 10_000)
  await Bun.sleep(200)
  expect(c.seen).toHaveLength(1)
  t.shutdown()
  const result = await sending
  expect(result.status).toBe('retryable')
  await Bun.sleep(50)
  expect(c.seen).toHaveLength(1)
  // Later exports fail without a request.
  expect((await t.send(new Uint8Array([1]), 1000)).status).toBe('failure')
  expect(c.seen).toHaveLength(1)
})

test('shutdown cuts short an export waiting for a slow collector', async () => {
  const c = collector([() => Bun.sleep(5000).then(ok)])
  const t = transport(c.url)
  const sending = t.send(new Uint8Array([1]), 10_000)
  await Bun.sleep(100)
  t.shutdown()
  const result = await sending
  expect(result.status).toBe('failure')
  expect((result as { error: Error }).error.message).toBe('the exporter shut down')
})
