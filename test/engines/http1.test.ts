// The gateway's HTTP/1.1 engine client against real loopback servers: raw TCP servers where the exact
// bytes matter (what is sent, how the answer is framed, when a connection closes), Bun.serve where a
// normal HTTP server is enough (big bodies).
import { afterEach, describe, expect, test } from 'bun:test'
import type { Server, Socket, TCPSocketListener } from 'bun'
import { createHash } from 'node:crypto'
import { join } from 'node:path'
import { EngineError, type EngineFetch, type EngineRequestInit, type EngineResponse } from '../../src/engines/engine-client'
import { createEngineHttp, type EngineHttp } from '../../src/engines/http1'
import { waitFor } from '../helpers/wait'

const HTTP1_MODULE = join(import.meta.dir, '../../src/engines/http1.ts')

const cleanup: (() => unknown)[] = []
afterEach(async () => {
  for (const stop of cleanup.splice(0).reverse()) await stop()
})

// ---------------------------------------------------------------------------------------------
// A raw engine: a TCP server that records the bytes of every request and answers with scripted bytes.

interface RawRequest {
  readonly method: string
  readonly path: string
  /** The request line and header lines, as sent. */
  readonly lines: string[]
  /** Header values by lower-cased name (the last one when repeated). */
  readonly headers: Map<string, string>
  readonly body: Buffer
  /** The whole request as it came on the wire. */
  readonly raw: Buffer
  readonly connection: RawConnection
}

class RawConnection {
  readonly requests: RawRequest[] = []
  closed = false
  private pending: Buffer = Buffer.alloc(0)

  constructor(
    readonly id: number,
    readonly socket: Socket<RawConnection>,
    private readonly engine: RawEngine,
  ) {}

  write(data: string | Uint8Array): void {
    const size = typeof data === 'string' ? Buffer.byteLength(data) : data.length
    const written = this.socket.write(data)
    if (written !== size) throw new Error(`the raw engine wrote ${written} of ${size} bytes`)
  }

  /** Closes the connection (a FIN). */
  end(): void {
    this.socket.end()
  }

  received(bytes: Buffer): void {
    this.pending = this.pending.length ? Buffer.concat([this.pending, bytes]) : Buffer.from(bytes)
    for (;;) {
      const end = this.pending.indexOf('\r\n\r\n')
      if (end < 0) return
      const lines = this.pending.toString('latin1', 0, end).split('\r\n')
      const headers = new Map<string, string>()
      for (const line of lines.slice(1)) {
        const colon = line.indexOf(':')
        headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim())
      }
      const length = Number(headers.get('content-length') ?? 0)
      if (this.pending.length < end + 4 + length) return
      const raw = this.pending.subarray(0, end + 4 + length)
      this.pending = this.pending.subarray(end + 4 + length)
      const [method = '', path = ''] = lines[0]!.split(' ')
      const request: RawRequest = { method, path, lines, headers, body: raw.subarray(end + 4), raw, connection: this }
      this.requests.push(request)
      this.engine.requests.push(request)
      this.engine.respond(request, this)
    }
  }
}

interface RawEngine {
  readonly port: number
  readonly connections: RawConnection[]
  /** Every request, in the order they came, on any connection. */
  readonly requests: RawRequest[]
  /** Answers a request; the default answers 200 "ok". */
  respond: (request: RawRequest, connection: RawConnection) => void
  url(path?: string): string
}

function startRawEngine(respond: RawEngine['respond'] = (_, c) => c.write(answer('ok'))): RawEngine {
  const connections: RawConnection[] = []
  const engine: RawEngine = {
    port: 0,
    connections,
    requests: [],
    respond,
    url: (path = '/') => `http://127.0.0.1:${engine.port}${path}`,
  }
  const listener: TCPSocketListener<RawConnection> = Bun.listen<RawConnection>({
    hostname: '127.0.0.1',
    port: 0,
    socket: {
      open(socket) {
        const connection = new RawConnection(connections.length, socket, engine)
        socket.data = connection
        connections.push(connection)
      },
      data(socket, bytes) {
        socket.data.received(bytes)
      },
      close(socket) {
        socket.data.closed = true
      },
      error(socket) {
        socket.data.closed = true
      },
    },
  })
  Object.assign(engine, { port: listener.port })
  cleanup.push(() => listener.stop(true))
  return engine
}

/** An HTTP/1.1 answer with a content-length. */
function answer(body = 'ok', { status = 200, reason = 'OK', headers = {} as Record<string, string>, version = '1.1' } = {}): string {
  let head = `HTTP/${version} ${status} ${reason}\r\ncontent-length: ${Buffer.byteLength(body)}\r\n`
  for (const [name, value] of Object.entries(headers)) head += `${name}: ${value}\r\n`
  return `${head}\r\n${body}`
}

/** A chunked head, to be followed by chunk() pieces and LAST_CHUNK. */
const CHUNKED_HEAD = 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ncontent-type: text/event-stream\r\n\r\n'
const chunk = (data: string) => `${Buffer.byteLength(data).toString(16)}\r\n${data}\r\n`
const LAST_CHUNK = '0\r\n\r\n'

// ---------------------------------------------------------------------------------------------

function client(fallback?: EngineFetch): EngineHttp {
  const http = createEngineHttp(fallback)
  cleanup.push(() => http.closeIdle())
  return http
}

/** Awaits a promise, failing the test instead of hanging when it does not settle in time. */
async function within<T>(promise: Promise<T>, what: string, ms = 3000): Promise<T> {
  let timer: Timer | undefined
  try {
    return await Promise.race([promise, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms)))])
  } finally {
    clearTimeout(timer)
  }
}

type Failure = Error & { code?: unknown; kind?: string }

/** The error a promise rejects with (fails when it resolves or hangs). */
async function rejection(promise: Promise<unknown>, what = 'the rejection'): Promise<Failure> {
  return within(
    promise.then(
      (value) => {
        throw new Error(`expected a rejection, got ${String(value)}`)
      },
      (e: Error) => e,
    ),
    what,
  ) as Promise<Failure>
}

async function fetchText(http: EngineHttp, url: string, init: EngineRequestInit = {}): Promise<string> {
  const response = await within(http.fetch(url, init), `the answer to ${url}`)
  return within(response.text(), `the body of ${url}`)
}

const decoder = new TextDecoder()
const readText = async (response: EngineResponse, what = 'a read'): Promise<string | undefined> => {
  const { done, value } = await within(response.body!.getReader().read(), what)
  return done ? undefined : decoder.decode(value)
}

// ---------------------------------------------------------------------------------------------

describe('request framing', () => {
  test('a request without a body is sent as a request line, host, accept-encoding: identity and the given headers', async () => {
    const engine = startRawEngine()
    const http = client()
    expect(await fetchText(http, engine.url('/v1/models?limit=2&x=%20y'), { headers: { authorization: 'Bearer k', 'X-Custom': 'a b' } })).toBe('ok')
    const [request] = engine.requests
    expect(request!.lines).toEqual(['GET /v1/models?limit=2&x=%20y HTTP/1.1', `host: 127.0.0.1:${engine.port}`, 'accept-encoding: identity', 'authorization: Bearer k', 'X-Custom: a b'])
    expect(request!.body.length).toBe(0)
  })

  test('the method is sent as given', async () => {
    const engine = startRawEngine()
    const http = client()
    await fetchText(http, engine.url('/x'), { method: 'DELETE' })
    expect(engine.requests[0]!.lines[0]).toBe('DELETE /x HTTP/1.1')
  })

  test('headers given as a Headers object are sent', async () => {
    const engine = startRawEngine()
    const http = client()
    await fetchText(http, engine.url('/'), { headers: new Headers({ 'x-one': '1', 'content-type': 'application/json' }) })
    expect(engine.requests[0]!.headers.get('x-one')).toBe('1')
    expect(engine.requests[0]!.headers.get('content-type')).toBe('application/json')
  })

  test('a body is sent byte-exact with its content-length in UTF-8 bytes', async () => {
    const engine = startRawEngine()
    const http = client()
    const body = JSON.stringify({ messages: [{ role: 'user', content: 'héllo 日本語 🎉 ∑' }] })
    expect(Buffer.byteLength(body)).toBeGreaterThan(body.length)
    await fetchText(http, engine.url('/v1/chat/completions'), { method: 'POST', headers: { 'content-type': 'application/json' }, body })
    const [request] = engine.requests
    expect(request!.lines[0]).toBe('POST /v1/chat/completions HTTP/1.1')
    expect(request!.headers.get('content-length')).toBe(String(Buffer.byteLength(body)))
    expect(request!.body.equals(Buffer.from(body))).toBe(true)
  })

  test('an empty body is sent as content-length: 0', async () => {
    const engine = startRawEngine()
    const http = client()
    await fetchText(http, engine.url('/'), { method: 'POST', body: '' })
    expect(engine.requests[0]!.headers.get('content-length')).toBe('0')
  })

  test('a header value with a line break is refused with a protocol error and nothing is sent', async () => {
    const engine = startRawEngine()
    const http = client()
    const error = await rejection(http.fetch(engine.url('/a'), { headers: { 'x-evil': 'a\r\nGET /smuggled HTTP/1.1' } }))
    expect(error).toBeInstanceOf(EngineError)
    expect(error.kind).toBe('protocol')
    const lf = await rejection(http.fetch(engine.url('/a'), { headers: { 'x-evil': 'a\nb' } }))
    expect(lf.kind).toBe('protocol')
    // The next request is the first the engine ever sees, on the first connection.
    await fetchText(http, engine.url('/b'))
    expect(engine.requests.map((r) => r.path)).toEqual(['/b'])
    expect(engine.connections).toHaveLength(1)
  })

  test('a header name with a line break is refused with a protocol error and nothing is sent', async () => {
    const engine = startRawEngine()
    const http = client()
    const error = await rejection(http.fetch(engine.url('/a'), { method: 'POST', body: '{}', headers: { 'x-a\r\nx-b': '1' } }))
    expect(error).toBeInstanceOf(EngineError)
    expect(error.kind).toBe('protocol')
    await fetchText(http, engine.url('/b'))
    expect(engine.requests.map((r) => r.path)).toEqual(['/b'])
    expect(engine.connections).toHaveLength(1)
  })
})

describe('response framing', () => {
  test('an answer with a content-length gives its status, headers (by any case) and body', async () => {
    const engine = startRawEngine((_, c) => c.write(answer('{"a":1}', { status: 201, reason: 'Created', headers: { 'Content-Type': 'application/json', 'X-Request-Id': 'r1' } })))
    const http = client()
    const response = await within(http.fetch(engine.url('/'), {}), 'the answer')
    expect(response.status).toBe(201)
    expect(response.ok).toBe(true)
    expect(response.headers.get('content-type')).toBe('application/json')
    expect(response.headers.get('X-REQUEST-ID')).toBe('r1')
    expect(response.headers.get('x-missing')).toBeNull()
    expect(await within(response.json(), 'the body')).toEqual({ a: 1 })
  })

  test('repeated header fields are joined with a comma', async () => {
    const engine = startRawEngine((_, c) => c.write('HTTP/1.1 200 OK\r\nvary: a\r\nVary: b\r\ncontent-length: 0\r\n\r\n'))
    const http = client()
    const response = await within(http.fetch(engine.url('/'), {}), 'the answer')
    expect(response.headers.get('vary')).toBe('a, b')
  })

  test('an error status is not ok and its body is readable', async () => {
    const engine = startRawEngine((_, c) => c.write(answer('{"error":{"message":"no such model"}}', { status: 404, reason: 'Not Found' })))
    const http = client()
    const response = await within(http.fetch(engine.url('/'), {}), 'the answer')
    expect(response.status).toBe(404)
    expect(response.ok).toBe(false)
    expect(await within(response.json(), 'the body')).toEqual({ error: { message: 'no such model' } })
  })

  test('a status line without a reason phrase is accepted', async () => {
    const engine = startRawEngine((_, c) => c.write('HTTP/1.1 503\r\ncontent-length: 4\r\n\r\nbusy'))
    const http = client()
    const response = await within(http.fetch(engine.url('/'), {}), 'the answer')
    expect(response.status).toBe(503)
    expect(await response.text()).toBe('busy')
  })

  test('a chunked answer with extensions and trailers is decoded, and its connection is reused', async () => {
    const engine = startRawEngine((_, c) => c.write(`${CHUNKED_HEAD}5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nx-trailer: t\r\n\r\n`))
    const http = client()
    const response = await within(http.fetch(engine.url('/a'), {}), 'the answer')
    expect(response.headers.get('transfer-encoding')).toBe('chunked')
    expect(await within(response.text(), 'the body')).toBe('hello, world')
    expect(await fetchText(http, engine.url('/b'))).toBe('hello, world')
    expect(engine.connections).toHaveLength(1)
    expect(engine.connections[0]!.requests.map((r) => r.path)).toEqual(['/a', '/b'])
  })

  test('a chunked answer split across packets at awkward places is decoded', async () => {
    const whole = `${CHUNKED_HEAD}${chunk('data: é日本\n\n')}${chunk('data: [DONE]\n\n')}${LAST_CHUNK}`
    const bytes = Buffer.from(whole)
    // Cuts inside the head's blank line, inside a size line, inside a multi-byte character, inside the last CRLF.
    const cuts = [CHUNKED_HEAD.length - 2, CHUNKED_HEAD.length + 1, CHUNKED_HEAD.length + 3 + 8, bytes.length - 1]
    const engine = startRawEngine(async (_, c) => {
      let at = 0
      for (const cut of [...cuts, bytes.length]) {
        c.write(bytes.subarray(at, cut))
        at = cut
        await Bun.sleep(10) // to make separate packets
      }
    })
    const http = client()
    expect(await fetchText(http, engine.url('/'))).toBe('data: é日本\n\ndata: [DONE]\n\n')
  })

  test('a broken chunked answer rejects the read with a protocol error and closes the connection', async () => {
    const engine = startRawEngine((_, c) => c.write(`${CHUNKED_HEAD}zz\r\nhello\r\n`))
    const http = client()
    const response = await within(http.fetch(engine.url('/'), {}), 'the answer')
    const error = await rejection(response.text())
    expect(error).toBeInstanceOf(EngineError)
    expect(error.kind).toBe('protocol')
    await waitFor(() => engine.connections[0]!.closed, 2000, 'the connection to close')
  })

  test('an answer with neither a length nor chunked is read until the engine closes, and its connection is not reused', async () => {
    const engine = startRawEngine((req, c) => {
      if (req.path === '/stream') {
        c.write('HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\nall of it')
        c.end()
      } else c.write(answer('next'))
    })
    const http = client()
    const response = await within(http.fetch(engine.url('/stream'), {}), 'the answer')
    expect(response.body).not.toBeNull()
    expect(await within(response.text(), 'the body')).toBe('all of it')
    expect(await fetchText(http, engine.url('/next'))).toBe('next')
    expect(engine.connections).toHaveLength(2)
    expect(engine.connections[1]!.requests.map((r) => r.path)).toEqual(['/next'])
  })

  test('an answer read until close delivers what arrives before the close as it comes', async () => {
    let connection: RawConnection | undefined
    const engine = startRawEngine((_, c) => {
      connection = c
      c.write('HTTP/1.1 200 OK\r\n\r\nfirst')
    })
    const http = client()
    const response = await within(http.fetch(engine.url('/'), {}), 'the answer')
    const reader = response.body!.getReader()
    expect(decoder.decode((await within(reader.read(), 'the first read')).value)).toBe('first')
    connection!.write('second')
    expect(decoder.decode((await within(reader.read(), 'the second read')).value)).toBe('second')
    connection!.end()
    expect(await within(reader.read(), 'the end')).toEqual({ done: true, value: undefined })
  })

  test('1xx interim answers are skipped for the final one', async () => {
    const engine = startRawEngine((_, c) => c.write(`HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: </style.css>\r\n\r\n${answer('final', { headers: { 'x-final': '1' } })}`))
    const http = client()
    const response = await within(http.fetch(engine.url('/'), {}), 'the answer')
    expect(response.status).toBe(200)
    expect(response.headers.get('x-final')).toBe('1')
    expect(response.headers.get('link')).toBeNull()
    expect(await response.text()).toBe('final')
  })

  test('a 1xx interim answer in a packet of its own is skipped for the final one', async () => {
    const engine = startRawEngine(async (_, c) => {
      c.write('HTTP/1.1 100 Continue\r\n\r\n')
      await Bun.sleep(20) // to make separate packets
      c.write(answer('final'))
    })
    const http = client()
    const response = await within(http.fetch(engine.url('/'), {}), 'the answer')
    expect(response.status).toBe(200)
    expect(await response.text()).toBe('final')
  })

  test('a response head split across packets, even inside its blank line, is parsed', async () => {
    const engine = startRawEngine(async (_, c) => {
      const whole = answer('body', { headers: { 'x-a': 'b' } })
      const blank = whole.indexOf('\r\n\r\n')
      for (const part of [whole.slice(0, 7), whole.slice(7, blank + 1), whole.slice(blank + 1, blank + 3), whole.slice(blank + 3)]) {
        c.write(part)
        await Bun.sleep(10) // to make separate packets
      }
    })
    const http = client()
    const response = await within(http.fetch(engine.url('/'), {}), 'the answer')
    expect(response.headers.get('x-a')).toBe('b')
    expect(await response.text()).toBe('body')
  })

  test('an HTTP/1.0 answer is not reused', async () => {
    const engine = startRawEngine((_, c) => c.write(answer('old', { version: '1.0' })))
    const http = client()
    expect(await fetchText(http, engine.url('/a'))).toBe('old')
    expect(await fetchText(http, engine.url('/b'))).toBe('old')
    expect(engine.connections).toHaveLength(2)
    await waitFor(() => engine.connections[0]!.closed, 2000, 'the first connection to close')
  })

  test('an HTTP/1.0 answer with connection: keep-alive is reused', async () => {
    const engine = startRawEngine((_, c) => c.write(answer('old', { version: '1.0', headers: { connection: 'Keep-Alive' } })))
    const http = client()
    expect(await fetchText(http, engine.url('/a'))).toBe('old')
    expect(await fetchText(http, engine.url('/b'))).toBe('old')
    expect(engine.connections).toHaveLength(1)
  })

  test('an answer with connection: close is not reused and its connection is closed', async () => {
    const engine = startRawEngine((_, c) => c.write(answer('bye', { headers: { Connection: 'close' } })))
    const http = client()
    expect(await fetchText(http, engine.url('/a'))).toBe('bye')
    await waitFor(() => engine.connections[0]!.closed, 2000, 'the connection to close')
    expect(await fetchText(http, engine.url('/b'))).toBe('bye')
    expect(engine.connections).toHaveLength(2)
  })

  test('a content-encoding other than identity is refused with a protocol error naming it', async () => {
    const engine = startRawEngine((_, c) => c.write(answer('\x1f\x8b...', { headers: { 'content-encoding': 'gzip' } })))
    const http = client()
    const error = await rejection(http.fetch(engine.url('/'), {}))
    expect(error).toBeInstanceOf(EngineError)
    expect(error.kind).toBe('protocol')
    expect(error.message).toContain('gzip')
    await waitFor(() => engine.connections[0]!.closed, 2000, 'the connection to close')
  })

  test('content-encoding: identity is accepted', async () => {
    const engine = startRawEngine((_, c) => c.write(answer('plain', { headers: { 'content-encoding': 'Identity' } })))
    const http = client()
    expect(await fetchText(http, engine.url('/'))).toBe('plain')
  })

  test('garbage instead of a status line is a protocol error', async () => {
    const engine = startRawEngine((_, c) => c.write('SSH-2.0-OpenSSH_9.6\r\nwhatever\r\n\r\n'))
    const http = client()
    const error = await rejection(http.fetch(engine.url('/'), {}))
    expect(error).toBeInstanceOf(EngineError)
    expect(error.kind).toBe('protocol')
    await waitFor(() => engine.connections[0]!.closed, 2000, 'the connection to close')
  })

  test('an HTTP/2 status line is a protocol error', async () => {
    const engine = startRawEngine((_, c) => c.write('HTTP/2 200\r\ncontent-length: 2\r\n\r\nok'))
    const http = client()
    const error = await rejection(http.fetch(engine.url('/'), {}))
    expect(error).toBeInstanceOf(EngineError)
    expect(error.kind).toBe('protocol')
  })

  test('a response head that grows past 64 KiB without ending is a protocol error', async () => {
    const engine = startRawEngine(async (_, c) => {
      c.write('HTTP/1.1 200 OK\r\n')
      for (let i = 0; i < 20 && !c.closed; i++) {
        c.write(`x-filler-${i}: ${'a'.repeat(8000)}\r\n`)
        await Bun.sleep(2)
      }
    })
    const http = client()
    const error = await rejection(http.fetch(engine.url('/'), {}))
    expect(error).toBeInstanceOf(EngineError)
    expect(error.kind).toBe('protocol')
    await waitFor(() => engine.connections[0]!.closed, 2000, 'the connection to close')
  })

  test('a complete response head of more than 64 KiB is a protocol error', async () => {
    const engine = startRawEngine((_, c) => c.write(answer('ok', { headers: { 'x-big': 'a'.repeat(70 * 1024) } })))
    const http = client()
    const error = await rejection(http.fetch(engine.url('/'), {}))
    expect(error).toBeInstanceOf(EngineError)
    expect(error.kind).toBe('protocol')
  })

  test('an invalid content-length is a protocol error', async () => {
    for (const length of ['abc', '-1', '1.5', '2, 3', '']) {
      const engine = startRawEngine((_, c) => c.write(`HTTP/1.1 200 OK\r\ncontent-length: ${length}\r\n\r\nok`))
      const http = client()
      const error = await rejection(http.fetch(engine.url('/'), {}), `the rejection for content-length ${JSON.stringify(length)}`)
      expect(error).toBeInstanceOf(EngineError)
      expect({ length, kind: error.kind }).toEqual({ length, kind: 'protocol' })
    }
  })

  test('bytes beyond the announced body do not spoil the answer, but the connection is not reused', async () => {
    const engine = startRawEngine((req, c) => c.write(req.path === '/a' ? `${answer('exact')}HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nstray` : answer('b')))
    const http = client()
    expect(await fetchText(http, engine.url('/a'))).toBe('exact')
    expect(await fetchText(http, engine.url('/b'))).toBe('b')
    expect(engine.connections).toHaveLength(2)
    expect(engine.connections[1]!.requests.map((r) => r.path)).toEqual(['/b'])
    await waitFor(() => engine.connections[0]!.closed, 2000, 'the first connection to close')
  })

  test('bytes after a chunked body ends are not taken as the next answer', async () => {
    const engine = startRawEngine((req, c) => c.write(req.path === '/a' ? `${CHUNKED_HEAD}${chunk('abc')}${LAST_CHUNK}${answer('stray')}` : answer('b')))
    const http = client()
    expect(await fetchText(http, engine.url('/a'))).toBe('abc')
    expect(await fetchText(http, engine.url('/b'))).toBe('b')
    expect(engine.connections).toHaveLength(2)
  })

  test('bytes the engine sends on an idle connection make it unusable', async () => {
    const engine = startRawEngine((req, c) => {
      c.write(answer(req.path))
      if (req.path === '/a') setTimeout(() => c.write(answer('unasked')), 20)
    })
    const http = client()
    expect(await fetchText(http, engine.url('/a'))).toBe('/a')
    await waitFor(() => engine.connections[0]!.closed, 2000, 'the idle connection to close')
    expect(await fetchText(http, engine.url('/b'))).toBe('/b')
    expect(engine.connections).toHaveLength(2)
  })

  test('a 204 answer has no body, and its connection is reused', async () => {
    const engine = startRawEngine((req, c) => c.write(req.path === '/a' ? 'HTTP/1.1 204 No Content\r\n\r\n' : answer('b')))
    const http = client()
    const response = await within(http.fetch(engine.url('/a'), {}), 'the answer')
    expect(response.status).toBe(204)
    expect(response.body).toBeNull()
    expect(await response.text()).toBe('')
    expect(await fetchText(http, engine.url('/b'))).toBe('b')
    expect(engine.connections).toHaveLength(1)
  })

  test('the answer to a HEAD request has no body even with a content-length, and its connection is reused', async () => {
    const engine = startRawEngine((req, c) => c.write(req.method === 'HEAD' ? 'HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n' : answer('b')))
    const http = client()
    const response = await within(http.fetch(engine.url('/a'), { method: 'HEAD' }), 'the answer')
    expect(response.status).toBe(200)
    expect(response.body).toBeNull()
    expect(await within(response.text(), 'the body')).toBe('')
    expect(await fetchText(http, engine.url('/b'))).toBe('b')
    expect(engine.connections).toHaveLength(1)
  })

  test('a 304 answer has no body even with a content-length', async () => {
    const engine = startRawEngine((req, c) => c.write(req.path === '/a' ? 'HTTP/1.1 304 Not Modified\r\ncontent-length: 10\r\n\r\n' : answer('b')))
    const http = client()
    const response = await within(http.fetch(engine.url('/a'), {}), 'the answer')
    expect(response.status).toBe(304)
    expect(response.body).toBeNull()
    expect(await fetchText(http, engine.url('/b'))).toBe('b')
    expect(engine.connections).toHaveLength(1)
  })

  test('an answer with content-length: 0 has no body', async () => {
    const engine = startRawEngine((_, c) => c.write(answer('')))
    const http = client()
    const response = await within(http.fetch(engine.url('/'), {}), 'the answer')
    expect(response.body).toBeNull()
    expect(await response.text()).toBe('')
    await fetchText(http, engine.url('/'))
    expect(engine.connections).toHaveLength(1)
  })
})

describe('keep-alive', () => {
  test('sequential requests reuse one connection', async () => {
    const engine = startRawEngine((req, c) => c.write(answer(req.path)))
    const http = client()
    for (const path of ['/1', '/2', '/3', '/4']) expect(await fetchText(http, engine.url(path), { method: 'POST', body: path })).toBe(path)
    expect(engine.connections).toHaveLength(1)
    expect(engine.connections[0]!.requests.map((r) => r.body.toString())).toEqual(['/1', '/2', '/3', '/4'])
  })

  test('a connection is taken back only once its answer has fully arrived', async () => {
    let slow: RawConnection | undefined
    const engine = startRawEngine((req, c) => {
      if (req.path === '/slow') {
        slow = c
        c.write('HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n01234')
      } else c.write(answer(req.path))
    })
    const http = client()
    const first = await within(http.fetch(engine.url('/slow'), {}), 'the answer')
    // Its head is in, its body is not: the next request needs a connection of its own.
    expect(await fetchText(http, engine.url('/b'))).toBe('/b')
    expect(engine.connections).toHaveLength(2)
    expect(engine.connections[1]!.requests.map((r) => r.path)).toEqual(['/b'])
    slow!.write('56789')
    expect(await within(first.text(), 'the rest of the body')).toBe('0123456789')
    // Now both are idle: the one just finished serves the next request.
    expect(await fetchText(http, engine.url('/c'))).toBe('/c')
    expect(engine.connections).toHaveLength(2)
    expect(engine.connections[0]!.requests.map((r) => r.path)).toEqual(['/slow', '/c'])
  })

  test('idle connections are reused the most recently released first', async () => {
    const held = new Map<string, RawConnection>()
    const engine = startRawEngine((req, c) => {
      if (req.path === '/a' || req.path === '/b') held.set(req.path, c)
      else c.write(answer(req.path))
    })
    const http = client()
    const a = http.fetch(engine.url('/a'), {})
    const b = http.fetch(engine.url('/b'), {})
    await waitFor(() => held.size === 2, 2000, 'both requests')
    held.get('/a')!.write(answer('a'))
    expect(await within((await a).text(), 'a')).toBe('a')
    held.get('/b')!.write(answer('b'))
    expect(await within((await b).text(), 'b')).toBe('b')
    expect(await fetchText(http, engine.url('/c'))).toBe('/c')
    expect(engine.requests.at(-1)!.connection).toBe(held.get('/b')!)
    expect(await fetchText(http, engine.url('/d'))).toBe('/d')
    expect(engine.requests.at(-1)!.connection).toBe(held.get('/b')!)
    expect(engine.connections).toHaveLength(2)
  })

  test('concurrent requests each get a connection', async () => {
    const held: RawConnection[] = []
    const engine = startRawEngine((_, c) => held.push(c))
    const http = client()
    const answers = ['/1', '/2', '/3'].map((path) => http.fetch(engine.url(path), {}))
    await waitFor(() => held.length === 3, 2000, 'three requests')
    expect(new Set(held).size).toBe(3)
    for (const c of held) c.write(answer(c.requests[0]!.path))
    expect(await Promise.all(answers.map(async (a) => (await a).text()))).toEqual(['/1', '/2', '/3'])
  })

  test('each engine address has its own connections', async () => {
    const one = startRawEngine((_, c) => c.write(answer('one')))
    const two = startRawEngine((_, c) => c.write(answer('two')))
    const http = client()
    expect(await fetchText(http, one.url('/'))).toBe('one')
    expect(await fetchText(http, two.url('/'))).toBe('two')
    expect(await fetchText(http, one.url('/x'))).toBe('one')
    expect(await fetchText(http, two.url('/x'))).toBe('two')
    expect([one.connections.length, two.connections.length]).toEqual([1, 1])
    expect(two.requests[0]!.headers.get('host')).toBe(`127.0.0.1:${two.port}`)
  })

  test('a connection idle for longer than 4 s is closed instead of reused', async () => {
    const engine = startRawEngine((req, c) => c.write(answer(req.path)))
    const http = client()
    expect(await fetchText(http, engine.url('/a'))).toBe('/a')
    const now = performance.now
    const real = now.bind(performance)
    performance.now = () => real() + 4100
    try {
      expect(await fetchText(http, engine.url('/b'))).toBe('/b')
    } finally {
      performance.now = now
    }
    expect(engine.connections).toHaveLength(2)
    expect(engine.connections[1]!.requests.map((r) => r.path)).toEqual(['/b'])
    await waitFor(() => engine.connections[0]!.closed, 2000, 'the stale connection to close')
  })

  test('a connection idle for a little under 4 s is reused', async () => {
    const engine = startRawEngine((req, c) => c.write(answer(req.path)))
    const http = client()
    expect(await fetchText(http, engine.url('/a'))).toBe('/a')
    const now = performance.now
    const real = now.bind(performance)
    performance.now = () => real() + 3500
    try {
      expect(await fetchText(http, engine.url('/b'))).toBe('/b')
    } finally {
      performance.now = now
    }
    expect(engine.connections).toHaveLength(1)
  })

  test('closeIdle closes the idle connections', async () => {
    const engine = startRawEngine((req, c) => c.write(answer(req.path)))
    const http = client()
    await fetchText(http, engine.url('/a'))
    http.closeIdle()
    await waitFor(() => engine.connections[0]!.closed, 2000, 'the idle connection to close')
    expect(await fetchText(http, engine.url('/b'))).toBe('/b')
    expect(engine.connections).toHaveLength(2)
  })

  test('an engine closing an idle connection is noticed: the next request goes on a new one', async () => {
    const engine = startRawEngine((req, c) => {
      c.write(answer(req.path))
      if (req.path === '/a') c.end()
    })
    const http = client()
    expect(await fetchText(http, engine.url('/a'))).toBe('/a')
    await waitFor(() => engine.connections[0]!.closed, 2000, 'the connection to close')
    expect(await fetchText(http, engine.url('/b'))).toBe('/b')
    expect(engine.connections.map((c) => c.requests.map((r) => r.path))).toEqual([['/a'], ['/b']])
  })

  // In a child process: does the process exit while the engine keeps the connection open? (The script
  // must not wait with a top-level await: Bun stays alive while one is pending, whatever the sockets.)
  async function runChild(script: string, engine: RawEngine): Promise<{ code: number; stdout: string }> {
    const proc = Bun.spawn([process.execPath, '-e', `import { createEngineHttp } from ${JSON.stringify(HTTP1_MODULE)}\nconst url = ${JSON.stringify(engine.url())}\nconst http = createEngineHttp()\n${script}`], {
      stdout: 'pipe',
      stderr: 'pipe',
    })
    try {
      const code = await within(proc.exited, 'the child process to exit', 5000)
      return { code, stdout: await new Response(proc.stdout).text() }
    } finally {
      proc.kill()
    }
  }

  test('an idle connection does not keep the process alive', async () => {
    const engine = startRawEngine((_, c) => c.write(answer('hi')))
    const { code, stdout } = await runChild(`http.fetch(url + 'a', {}).then((r) => r.text()).then(console.log)`, engine)
    expect(stdout).toBe('hi\n')
    expect(code).toBe(0)
    // the engine did not close it: the process ended with the connection idle in the pool
    expect(engine.connections).toHaveLength(1)
  })

  test('a reused connection keeps the process alive while its answer is awaited', async () => {
    const engine = startRawEngine((req, c) => {
      if (req.path === '/slow') setTimeout(() => c.closed || c.write(answer('slow')), 300)
      else c.write(answer('fast'))
    })
    const { code, stdout } = await runChild(
      `http.fetch(url + 'fast', {}).then((r) => r.text()).then((text) => {\n  console.log(text)\n  return http.fetch(url + 'slow', {})\n}).then((r) => r.text()).then(console.log)`,
      engine,
    )
    expect(stdout).toBe('fast\nslow\n')
    expect(code).toBe(0)
    expect(engine.connections).toHaveLength(1)
  })
})

describe('connections closed by the engine', () => {
  test('a reused connection the engine closes before answering: the request is sent again on a new one', async () => {
    const engine = startRawEngine((req, c) => {
      if (req.path === '/b' && c.id === 0) c.end()
      else c.write(answer(`${req.path} on ${c.id}`))
    })
    const http = client()
    expect(await fetchText(http, engine.url('/a'))).toBe('/a on 0')
    const body = JSON.stringify({ prompt: 'ünïcode' })
    expect(await fetchText(http, engine.url('/b'), { method: 'POST', body, headers: { 'x-try': '1' } })).toBe('/b on 1')
    expect(engine.connections).toHaveLength(2)
    const [lost, resent] = engine.requests.slice(1)
    expect(lost!.connection.id).toBe(0)
    expect(resent!.connection.id).toBe(1)
    expect(resent!.raw.equals(lost!.raw)).toBe(true)
    expect(resent!.body.toString()).toBe(body)
  })

  test('the request is sent again on a new connection, not on another idle one', async () => {
    const held = new Map<string, RawConnection>()
    const engine = startRawEngine((req, c) => {
      if (req.path === '/a' || req.path === '/b') held.set(req.path, c)
      else if (req.path === '/c' && c.requests.length === 2) c.end()
      else c.write(answer(`${req.path} on ${c.id}`))
    })
    const http = client()
    // Two idle connections: /b's (released last, so taken first) and /a's.
    const a = http.fetch(engine.url('/a'), {})
    const b = http.fetch(engine.url('/b'), {})
    await waitFor(() => held.size === 2, 2000, 'both requests')
    held.get('/a')!.write(answer('a'))
    await within((await a).text(), 'a')
    held.get('/b')!.write(answer('b'))
    await within((await b).text(), 'b')
    const reused = held.get('/b')!.id
    expect(await fetchText(http, engine.url('/c'))).toBe('/c on 2')
    expect(engine.requests.slice(2).map((r) => r.connection.id)).toEqual([reused, 2])
  })

  test('a reused connection the engine resets before answering: the request is sent again on a new one', async () => {
    const engine = startRawEngine((req, c) => {
      if (req.path === '/b' && c.id === 0) c.socket.terminate()
      else c.write(answer(`${req.path} on ${c.id}`))
    })
    const http = client()
    expect(await fetchText(http, engine.url('/a'))).toBe('/a on 0')
    expect(await fetchText(http, engine.url('/b'))).toBe('/b on 1')
  })

  test('the request is sent again only once', async () => {
    const engine = startRawEngine((req, c) => {
      if (req.path === '/b') c.end()
      else c.write(answer(req.path))
    })
    const http = client()
    await fetchText(http, engine.url('/a'))
    const error = await rejection(http.fetch(engine.url('/b'), {}))
    expect(error.code).toBe('ConnectionClosed')
    expect(error.message).toBe('connection closed by the engine')
    expect(engine.requests.map((r) => `${r.path} on ${r.connection.id}`)).toEqual(['/a on 0', '/b on 0', '/b on 1'])
  })

  test('a new connection the engine closes before answering rejects with ConnectionClosed, without sending again', async () => {
    const engine = startRawEngine((_, c) => c.end())
    const http = client()
    const error = await rejection(http.fetch(engine.url('/a'), { method: 'POST', body: 'x' }))
    expect(error.code).toBe('ConnectionClosed')
    expect(error.message).toBe('connection closed by the engine')
    expect(engine.requests).toHaveLength(1)
    expect(engine.connections).toHaveLength(1)
  })

  test('a reused connection closed after part of the answer head is not sent again', async () => {
    const engine = startRawEngine((req, c) => {
      if (req.path === '/b') {
        c.write('HTTP/1.1 200 OK\r\ncontent-')
        c.end()
      } else c.write(answer(req.path))
    })
    const http = client()
    await fetchText(http, engine.url('/a'))
    const error = await rejection(http.fetch(engine.url('/b'), {}))
    expect(error.code).toBe('ConnectionClosed')
    expect(engine.requests.map((r) => r.path)).toEqual(['/a', '/b'])
  })

  test('a connection closed in the middle of a body with a length makes the pending read reject with ECONNRESET', async () => {
    let connection: RawConnection | undefined
    const engine = startRawEngine((_, c) => {
      connection = c
      c.write('HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\npart')
    })
    const http = client()
    const response = await within(http.fetch(engine.url('/'), {}), 'the answer')
    const reader = response.body!.getReader()
    expect(decoder.decode((await within(reader.read(), 'the first read')).value)).toBe('part')
    const pending = reader.read()
    connection!.end()
    const error = await rejection(pending)
    expect(error.code).toBe('ECONNRESET')
    // and later reads too
    expect((await rejection(reader.read())).code).toBe('ECONNRESET')
  })

  test('a connection closed in the middle of a chunked body makes text() reject with ECONNRESET', async () => {
    const engine = startRawEngine((_, c) => {
      c.write(`${CHUNKED_HEAD}${chunk('data: 1\n\n')}`)
      setTimeout(() => c.end(), 20)
    })
    const http = client()
    const response = await within(http.fetch(engine.url('/'), {}), 'the answer')
    const error = await rejection(response.text())
    expect(error.code).toBe('ECONNRESET')
    // the next request does not go on the dead connection
    engine.respond = (req, c) => c.write(answer(req.path))
    expect(await fetchText(http, engine.url('/next'))).toBe('/next')
  })

  test('text() called after the connection died mid-body rejects', async () => {
    const engine = startRawEngine((_, c) => {
      c.write('HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\npart')
      c.end()
    })
    const http = client()
    const response = await within(http.fetch(engine.url('/'), {}), 'the answer')
    await waitFor(() => engine.connections[0]!.closed, 2000, 'the connection to close')
    const error = await rejection(response.text())
    expect(error.code).toBe('ECONNRESET')
  })

  test('a refused connection rejects with ECONNREFUSED', async () => {
    const listener = Bun.listen({ hostname: '127.0.0.1', port: 0, socket: { data() {} } })
    const port = listener.port
    listener.stop(true)
    const http = client()
    const error = await rejection(http.fetch(`http://127.0.0.1:${port}/v1/models`, {}))
    expect(error.code).toBe('ECONNREFUSED')
  })
})

describe('abort', () => {
  test('a signal aborted before the call rejects at once with its reason, and nothing is sent', async () => {
    const engine = startRawEngine()
    const http = client()
    const controller = new AbortController()
    const reason = new Error('already gone')
    controller.abort(reason)
    expect(await rejection(http.fetch(engine.url('/a'), { method: 'POST', body: '{}', signal: controller.signal }))).toBe(reason)
    await fetchText(http, engine.url('/b'))
    expect(engine.requests.map((r) => r.path)).toEqual(['/b'])
    expect(engine.connections).toHaveLength(1)
  })

  test('a deferrable call aborted in the turn that made it, behind the turn’s first, is never written to the engine; the others are', async () => {
    const engine = startRawEngine()
    const http = client()
    const controller = new AbortController()
    const reason = new Error('gone at once')
    // Kept-alive connections: a request written at once would go out on one of them within this turn.
    await Promise.all([1, 2, 3].map((i) => fetchText(http, engine.url(`/warm${i}`))))
    const first = fetchText(http, engine.url('/first'), { deferrable: true })
    const aborted = http.fetch(engine.url('/aborted'), { method: 'POST', body: '{}', signal: controller.signal, deferrable: true })
    const last = fetchText(http, engine.url('/last'), { deferrable: true })
    // Still the same turn: the deferrable requests after its first are written together at its end.
    controller.abort(reason)
    expect(await rejection(aborted)).toBe(reason)
    expect(await within(Promise.all([first, last]), 'the other answers')).toEqual(['ok', 'ok'])
    expect(engine.requests.map((r) => r.path).sort()).toEqual(['/first', '/last', '/warm1', '/warm2', '/warm3'])
  })

  test('aborting while waiting for the answer head rejects with the reason and closes the connection', async () => {
    const engine = startRawEngine((req, c) => {
      if (req.path !== '/hang') c.write(answer(req.path))
    })
    const http = client()
    const controller = new AbortController()
    const pending = http.fetch(engine.url('/hang'), { signal: controller.signal })
    await waitFor(() => engine.requests.length === 1, 2000, 'the request')
    const reason = new DOMException('timed out', 'TimeoutError')
    controller.abort(reason)
    expect(await rejection(pending)).toBe(reason)
    await waitFor(() => engine.connections[0]!.closed, 2000, 'the connection to close')
    expect(await fetchText(http, engine.url('/next'))).toBe('/next')
    expect(engine.connections).toHaveLength(2)
  })

  test('aborting while the head is half in rejects with the reason', async () => {
    const engine = startRawEngine((_, c) => c.write('HTTP/1.1 200 OK\r\ncontent-'))
    const http = client()
    const controller = new AbortController()
    const pending = http.fetch(engine.url('/'), { signal: controller.signal })
    await waitFor(() => engine.requests.length === 1, 2000, 'the request')
    const reason = new Error('client went away')
    controller.abort(reason)
    expect(await rejection(pending)).toBe(reason)
    await waitFor(() => engine.connections[0]!.closed, 2000, 'the connection to close')
  })

  test('aborting in the middle of the body makes the pending read reject with the reason and closes the connection', async () => {
    const engine = startRawEngine((_, c) => c.write(`${CHUNKED_HEAD}${chunk('data: 1\n\n')}`))
    const http = client()
    const controller = new AbortController()
    const response = await within(http.fetch(engine.url('/'), { signal: controller.signal }), 'the answer')
    const reader = response.body!.getReader()
    expect(decoder.decode((await within(reader.read(), 'the first read')).value)).toBe('data: 1\n\n')
    const pending = reader.read()
    const reason = new Error('stop')
    controller.abort(reason)
    expect(await rejection(pending)).toBe(reason)
    await waitFor(() => engine.connections[0]!.closed, 2000, 'the connection to close')
  })

  test('aborting after the answer is complete changes nothing: the body reads and the connection is reused', async () => {
    const engine = startRawEngine((req, c) => c.write(answer(req.path)))
    const http = client()
    const controller = new AbortController()
    const response = await within(http.fetch(engine.url('/a'), { signal: controller.signal }), 'the answer')
    await fetchText(http, engine.url('/b')) // by now /a's body has arrived
    controller.abort(new Error('late'))
    expect(await within(response.text(), 'the body')).toBe('/a')
    expect(await fetchText(http, engine.url('/c'))).toBe('/c')
    expect(engine.connections).toHaveLength(1)
  })
})

describe('cancel', () => {
  for (const how of ['reader.cancel()', 'body.cancel()'] as const) {
    test(`${how} in the middle of the body ends the reads and closes the connection, which is not reused`, async () => {
      const engine = startRawEngine((req, c) => c.write(req.path === '/stream' ? `${CHUNKED_HEAD}${chunk('data: 1\n\n')}` : answer(req.path)))
      const http = client()
      const response = await within(http.fetch(engine.url('/stream'), {}), 'the answer')
      const reader = response.body!.getReader()
      expect(decoder.decode((await within(reader.read(), 'the first read')).value)).toBe('data: 1\n\n')
      await (how === 'reader.cancel()' ? reader.cancel() : response.body!.cancel())
      expect(await within(reader.read(), 'a read after cancel')).toEqual({ done: true, value: undefined })
      await waitFor(() => engine.connections[0]!.closed, 2000, 'the connection to close')
      expect(await fetchText(http, engine.url('/next'))).toBe('/next')
      expect(engine.connections).toHaveLength(2)
    })
  }

  test('a read pending when the body is cancelled ends with done', async () => {
    const engine = startRawEngine((_, c) => c.write(`${CHUNKED_HEAD}${chunk('x')}`))
    const http = client()
    const response = await within(http.fetch(engine.url('/'), {}), 'the answer')
    const reader = response.body!.getReader()
    await within(reader.read(), 'the first read')
    const pending = reader.read()
    await reader.cancel()
    expect(await within(pending, 'the pending read')).toEqual({ done: true, value: undefined })
  })

  test('data that arrived but was not read is dropped by cancel', async () => {
    const engine = startRawEngine(async (_, c) => {
      c.write(`${CHUNKED_HEAD}${chunk('one')}`)
      await Bun.sleep(10) // to make separate packets
      c.write(chunk('two'))
    })
    const http = client()
    const response = await within(http.fetch(engine.url('/'), {}), 'the answer')
    const reader = response.body!.getReader()
    expect(decoder.decode((await within(reader.read(), 'the first read')).value)).toBe('one')
    await Bun.sleep(30) // let 'two' arrive unread
    await reader.cancel()
    expect(await within(reader.read(), 'a read after cancel')).toEqual({ done: true, value: undefined })
  })
})

describe('big bodies', () => {
  let server: Server<unknown> | undefined
  afterEach(async () => {
    await server?.stop(true)
    server = undefined
  })

  test('a request body of several MiB is written completely although the socket pushes back', async () => {
    server = Bun.serve({
      hostname: '127.0.0.1',
      port: 0,
      async fetch(request) {
        const bytes = new Uint8Array(await request.arrayBuffer())
        return Response.json({ length: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex'), header: request.headers.get('content-length') })
      },
    })
    const http = client()
    // Multi-byte characters throughout, so a partial write that resumes at the wrong byte would show.
    const body = JSON.stringify({ text: 'é日本🎉-'.repeat(700_000) })
    const bytes = Buffer.from(body)
    expect(bytes.length).toBeGreaterThan(8 * 1024 * 1024)
    const expected = { length: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex'), header: String(bytes.length) }
    for (let i = 0; i < 2; i++) {
      const response = await within(http.fetch(`http://127.0.0.1:${server.port}/upload`, { method: 'POST', body }), 'the answer', 10_000)
      expect(await response.json()).toEqual(expected)
    }
  })

  test('an answer that comes before the request body is all written is delivered, and the connection is not reused', async () => {
    let opens = 0
    let closes = 0
    const listener = Bun.listen<{ answered: boolean }>({
      hostname: '127.0.0.1',
      port: 0,
      socket: {
        open(socket) {
          opens++
          socket.data = { answered: false }
        },
        data(socket, bytes) {
          if (socket.data.answered) return
          socket.data.answered = true
          const tooBig = bytes.toString('latin1').startsWith('POST')
          socket.write(tooBig ? 'HTTP/1.1 413 Payload Too Large\r\ncontent-length: 3\r\n\r\nbig' : answer('small'))
          // (a real server would go on reading and discard the rest)
        },
        close() {
          closes++
        },
      },
    })
    cleanup.push(() => listener.stop(true))
    const http = client()
    const response = await within(http.fetch(`http://127.0.0.1:${listener.port}/upload`, { method: 'POST', body: 'x'.repeat(16 * 1024 * 1024) }), 'the answer', 10_000)
    expect(response.status).toBe(413)
    expect(await within(response.text(), 'the body')).toBe('big')
    await waitFor(() => closes === 1, 3000, 'the connection to close')
    expect(await fetchText(http, `http://127.0.0.1:${listener.port}/next`)).toBe('small')
    expect(opens).toBe(2)
  })

  test('an answer body of several MiB is read completely', async () => {
    const big = 'ü0123456789'.repeat(500_000)
    server = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: () => new Response(big) })
    const http = client()
    const text = await fetchText(http, `http://127.0.0.1:${server.port}/`)
    expect(text.length).toBe(big.length)
    expect(text === big).toBe(true)
  })

  test('a streamed answer from Bun.serve (chunked) arrives whole, and the connection is kept', async () => {
    const parts = Array.from({ length: 50 }, (_, i) => `data: ${i} ${'x'.repeat(i * 1000)}\n\n`)
    const ports = new Set<number>()
    server = Bun.serve({
      hostname: '127.0.0.1',
      port: 0,
      fetch(request, srv) {
        ports.add(srv.requestIP(request)!.port)
        let i = 0
        return new Response(
          new ReadableStream({
            async pull(controller) {
              if (i === parts.length) return controller.close()
              controller.enqueue(new TextEncoder().encode(parts[i++]))
              if (i % 10 === 0) await Bun.sleep(1)
            },
          }),
        )
      },
    })
    const http = client()
    for (let n = 0; n < 2; n++) {
      const response = await within(http.fetch(`http://127.0.0.1:${server.port}/`, {}), 'the answer')
      expect(response.headers.get('transfer-encoding')).toBe('chunked')
      expect((await within(response.text(), 'the body')) === parts.join('')).toBe(true)
    }
    expect(ports.size).toBe(1)
  })
})

describe('streaming', () => {
  test('chunks are delivered as they arrive, before the body ends', async () => {
    let connection: RawConnection | undefined
    const engine = startRawEngine((_, c) => {
      connection = c
      c.write(`${CHUNKED_HEAD}${chunk('data: 1\n\n')}`)
    })
    const http = client()
    const response = await within(http.fetch(engine.url('/'), {}), 'the answer')
    expect(await readText(response, 'the first chunk')).toBe('data: 1\n\n')
    const second = readText(response, 'the second chunk')
    connection!.write(chunk('data: 2\n\n'))
    expect(await second).toBe('data: 2\n\n')
    connection!.write(LAST_CHUNK)
    expect(await readText(response, 'the end')).toBeUndefined()
  })

  test('body bytes that came with the head are delivered before the body ends', async () => {
    let connection: RawConnection | undefined
    const engine = startRawEngine((_, c) => {
      connection = c
      c.write('HTTP/1.1 200 OK\r\ncontent-length: 8\r\n\r\nabcd')
    })
    const http = client()
    const response = await within(http.fetch(engine.url('/'), {}), 'the answer')
    expect(await readText(response, 'the first part')).toBe('abcd')
    connection!.write('efgh')
    expect(await readText(response, 'the second part')).toBe('efgh')
    expect(await readText(response, 'the end')).toBeUndefined()
  })

  test('data that arrives while nobody reads is kept intact until read', async () => {
    const parts = ['data: first\n\n', 'data: second\n\n', 'data: third\n\n']
    const engine = startRawEngine(async (_, c) => {
      c.write(CHUNKED_HEAD)
      for (const part of parts) {
        await Bun.sleep(10) // to make separate packets (and separate socket reads)
        c.write(chunk(part))
      }
      await Bun.sleep(10)
      c.write(LAST_CHUNK)
    })
    const http = client()
    const response = await within(http.fetch(engine.url('/'), {}), 'the answer')
    // Give every packet time to arrive before anything is read: what was buffered must not have been overwritten.
    await Bun.sleep(100)
    const reader = response.body!.getReader()
    const got: string[] = []
    for (;;) {
      const { done, value } = await within(reader.read(), 'a read')
      if (done) break
      got.push(decoder.decode(value))
    }
    expect(got.join('')).toBe(parts.join(''))
  })
})

describe('one reader', () => {
  test('a second read while one is pending, or text() meanwhile, is refused; the first read still gets its data', async () => {
    let connection: RawConnection | undefined
    const engine = startRawEngine((_, c) => {
      connection = c
      c.write(CHUNKED_HEAD)
    })
    const http = client()
    const response = await within(http.fetch(engine.url('/'), {}), 'the answer')
    const reader = response.body!.getReader()
    const first = reader.read()
    expect((await rejection(reader.read(), 'the second read')).message).toContain('already being read')
    expect((await rejection(response.text(), 'text()')).message).toContain('already being read')
    connection!.write(chunk('data: one\n\n'))
    const { value } = await within(first, 'the first read')
    expect(decoder.decode(value)).toBe('data: one\n\n')
  })

  test('text() after some reads gives only what was not read yet', async () => {
    let connection: RawConnection | undefined
    const engine = startRawEngine((_, c) => {
      connection = c
      c.write(CHUNKED_HEAD + chunk('one '))
    })
    const http = client()
    const response = await within(http.fetch(engine.url('/'), {}), 'the answer')
    expect(await readText(response, 'the first read')).toBe('one ')
    const rest = response.text()
    connection!.write(chunk('two ') + chunk('three') + LAST_CHUNK)
    expect(await within(rest, 'text()')).toBe('two three')
  })
})

describe('addresses', () => {
  test('an IPv6 engine address in brackets is reached over its own pool', async () => {
    let server: Server<undefined> | undefined
    try {
      server = Bun.serve({ hostname: '::1', port: 0, fetch: (req) => new Response(`v6 ${new URL(req.url).pathname}`) })
    } catch {
      return // no IPv6 loopback on this machine
    }
    cleanup.push(() => server!.stop(true))
    const http = client(() => Promise.reject(new Error('the fallback was used')))
    expect(await fetchText(http, `http://[::1]:${server.port}/v1/models`)).toBe('v6 /v1/models')
  })
})

describe('fallback', () => {
  function recordingFallback() {
    const calls: [string, EngineRequestInit][] = []
    const answer: EngineResponse = { status: 299, ok: true, headers: { get: () => null }, body: null, text: async () => 'from fallback', json: async () => ({}) }
    const fallback: EngineFetch = (url, init) => {
      calls.push([url, init])
      return Promise.resolve(answer)
    }
    return { calls, answer, fallback }
  }

  test('an https URL goes to the fallback with the same url and init', async () => {
    const { calls, answer, fallback } = recordingFallback()
    const http = client(fallback)
    const init: EngineRequestInit = { method: 'POST', headers: { a: 'b' }, body: '{}', signal: new AbortController().signal }
    expect(await http.fetch('https://engine.example:8443/v1/chat/completions', init)).toBe(answer)
    expect(calls).toHaveLength(1)
    expect(calls[0]![0]).toBe('https://engine.example:8443/v1/chat/completions')
    expect(calls[0]![1]).toBe(init)
  })

  test('an http URL with credentials goes to the fallback with the same url and init', async () => {
    const engine = startRawEngine()
    const { calls, answer, fallback } = recordingFallback()
    const http = client(fallback)
    const url = `http://user:pass@127.0.0.1:${engine.port}/v1/models`
    const init: EngineRequestInit = { headers: new Headers({ x: '1' }) }
    expect(await http.fetch(url, init)).toBe(answer)
    expect(calls).toEqual([[url, init]])
    expect(calls[0]![1]).toBe(init)
    expect(engine.connections).toHaveLength(0)
  })

  test('an http URL with only a user name goes to the fallback', async () => {
    const { calls, fallback } = recordingFallback()
    const http = client(fallback)
    await http.fetch('http://user@127.0.0.1:1/', {})
    expect(calls).toHaveLength(1)
  })

  test('a plain http URL does not use the fallback', async () => {
    const engine = startRawEngine()
    const { calls, fallback } = recordingFallback()
    const http = client(fallback)
    expect(await fetchText(http, engine.url('/'))).toBe('ok')
    expect(await fetchText(http, engine.url('/'))).toBe('ok')
    expect(calls).toHaveLength(0)
  })
})
