// Requests no HTTP client library would send, written to a socket by hand: malformed Host headers and
// headers past the default header limit still get the gateway's own JSON answers, never Bun's
// debug page or a bare status.
import { afterAll, beforeAll, expect, test } from 'bun:test'
import { startGateway, type TestGateway } from '../helpers/gateway'

let gw: TestGateway

beforeAll(async () => {
  gw = await startGateway(['--mock'])
})
afterAll(() => gw.stop())

/** Sends raw request bytes on a fresh connection; resolves with the status and body once it closes. */
async function raw(request: string): Promise<{ status: number; head: string; body: string }> {
  const port = Number(new URL(gw.url).port)
  let text = ''
  const done = Promise.withResolvers<void>()
  const socket = await Bun.connect({
    hostname: '127.0.0.1',
    port,
    socket: {
      data: (_, chunk) => {
        text += new TextDecoder().decode(chunk)
      },
      close: () => done.resolve(),
      error: () => done.resolve(),
    },
  })
  socket.write(request)
  const timer = setTimeout(() => socket.end(), 5000)
  await done.promise
  clearTimeout(timer)
  const [head = '', body = ''] = text.split('\r\n\r\n')
  return { status: Number(head.split(' ')[1]), head, body }
}

test.each(['a b', '[::1', 'h:99999', ''])('a malformed Host header (%p) gets a JSON answer, not a 500 debug page', async (host) => {
  const res = await raw(`GET /v1/models HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`)
  expect(res.status).toBeLessThan(500)
  expect(res.head.toLowerCase()).toContain('content-type: application/json')
  expect(res.body).not.toContain('/work/')
})

test('headers over the default limit (8 KiB) get the gateway\'s own 431 with a JSON body and a request id', async () => {
  const res = await raw(`GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\nx-padding: ${'p'.repeat(10_000)}\r\nConnection: close\r\n\r\n`)
  expect(res.status).toBe(431)
  expect(res.head.toLowerCase()).toContain('x-request-id:')
  expect(JSON.parse(res.body.slice(res.body.indexOf('{'), res.body.lastIndexOf('}') + 1)).error.code).toBe('request_header_fields_too_large')
})
