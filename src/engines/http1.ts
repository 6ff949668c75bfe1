// Engine calls over HTTP/1.1 on Bun's TCP sockets, with a pool of kept-alive connections per engine.
// Why not `fetch`: Bun's fetch hands every request to its HTTP client thread and the answer back,
// about 22 µs of CPU per request, two thirds of what a minimal Bun proxy costs in all; a socket read
// on the gateway's own thread costs about a third of that, every streamed chunk is a plain callback,
// and Bun's cap of 256 fetches in flight does not apply. Plain http:// only (what engines on a GPU
// node serve); anything else (https, credentials in the URL) goes through the fallback, `fetch`.
// The answer is an EngineResponse: the part of the Fetch API's Response the gateway reads.
import type { Socket, SocketHandler } from 'bun'
import { EngineError, type BodyFlow, type BodySink, type EngineFetch, type EngineRequestInit, type EngineResponse, type ResponseHeaders } from './engine-client'
import { ChunkedDecoder } from './http1-chunked'

/** An idle connection older than this is closed rather than reused: engines' keep-alive is often 5 s. */
const IDLE_MS = 4000
const MAX_HEAD_BYTES = 64 * 1024
/** Parsed engine URLs kept (engines × paths; cleared when passed). */
const MAX_TARGETS = 1024

/** What the socket layer failed with, coded the way describeFailure words Bun's own errors. */
class SocketFailure extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message)
  }
}

interface Target {
  readonly pool: Pool
  readonly path: string
}

export interface EngineHttp {
  readonly fetch: EngineFetch
  /** Closes the idle connections (those in use close when their answer ends). */
  closeIdle(): void
}

/** The gateway's engine client: HTTP/1.1 keep-alive pools for http:// engines, `fallback` for the rest. */
export function createEngineHttp(fallback: EngineFetch = fetch): EngineHttp {
  const pools = new Map<string, Pool>()
  const targets = new Map<string, Target | null>()
  const targetOf = (url: string): Target | null => {
    let target = targets.get(url)
    if (target !== undefined) return target
    const parsed = URL.parse(url)
    if (parsed?.protocol !== 'http:' || parsed.username || parsed.password) target = null
    else {
      let pool = pools.get(parsed.host)
      if (!pool) pools.set(parsed.host, (pool = new Pool(parsed.hostname.replace(/^\[(.*)\]$/, '$1'), Number(parsed.port || 80), parsed.host)))
      target = { pool, path: parsed.pathname + parsed.search }
    }
    if (targets.size >= MAX_TARGETS) targets.clear()
    targets.set(url, target)
    return target
  }
  return {
    fetch: (url, init) => {
      const target = targetOf(url)
      if (!target) return fallback(url, init)
      return new Promise<EngineResponse>((resolve, reject) => {
        const bodyBytes = init.body === undefined ? 0 : Buffer.byteLength(init.body)
        const head = requestHead(init.method ?? 'GET', target, init.headers, init.body === undefined ? undefined : bodyBytes)
        new Exchange(target.pool, head + (init.body ?? ''), Buffer.byteLength(head) + bodyBytes, init.signal, resolve, reject).start()
      })
    },
    closeIdle: () => {
      for (const pool of pools.values()) pool.closeIdle()
    },
  }
}

function requestHead(method: string, target: Target, headers: EngineRequestInit['headers'], bodyBytes: number | undefined): string {
  let head = `${method} ${target.path} HTTP/1.1\r\nhost: ${target.pool.hostHeader}\r\naccept-encoding: identity\r\n`
  const add = (value: string, name: string) => {
    // Header values come from the gateway and from validated client headers; a line break would
    // let one smuggle a second request onto the engine's connection.
    if (/[\r\n]/.test(name) || /[\r\n]/.test(value)) throw new EngineError('protocol', `header ${JSON.stringify(name)} contains a line break and was not sent`)
    head += `${name}: ${value}\r\n`
  }
  if (headers instanceof Headers) headers.forEach(add)
  else if (headers) for (const name in headers) add(headers[name]!, name)
  if (bodyBytes !== undefined) head += `content-length: ${bodyBytes}\r\n`
  return `${head}\r\n`
}

/** The kept-alive connections to one engine address, the most recently used first. */
class Pool {
  private readonly idle: Connection[] = []

  constructor(
    readonly hostname: string,
    readonly port: number,
    readonly hostHeader: string,
  ) {}

  /** Sends on an idle connection, or a new one; `fresh` skips the idle ones. */
  send(exchange: Exchange, fresh = false): void {
    let connection: Connection | undefined
    while (!fresh && (connection = this.idle.pop())) {
      if (performance.now() - connection.idleSince < IDLE_MS && connection.socket) return connection.begin(exchange)
      connection.destroy()
    }
    connection = new Connection(this)
    Bun.connect({ hostname: this.hostname, port: this.port, socket: HANDLERS, data: connection }).then(
      (socket) => {
        socket.setNoDelay(true)
        connection.socket = socket
        connection.begin(exchange)
      },
      (e: Error) => exchange.fail(e),
    )
  }

  release(connection: Connection): void {
    connection.idleSince = performance.now()
    connection.socket?.unref()
    this.idle.push(connection)
  }

  forget(connection: Connection): void {
    const at = this.idle.indexOf(connection)
    if (at >= 0) this.idle.splice(at, 1)
  }

  closeIdle(): void {
    for (const connection of this.idle.splice(0)) connection.destroy()
  }
}

class Connection {
  socket: Socket<Connection> | undefined
  exchange: Exchange | undefined
  /** Answers completed on it: a reused connection may have been closed by the engine meanwhile. */
  served = 0
  idleSince = 0
  closed = false
  /** Reading stopped for a client that pushes back. */
  paused = false

  constructor(readonly pool: Pool) {}

  pause(): void {
    if (this.paused || !this.socket) return
    this.paused = true
    this.socket.pause()
  }

  resume(): void {
    if (!this.paused) return
    this.paused = false
    this.socket?.resume()
  }

  begin(exchange: Exchange): void {
    this.exchange = exchange
    this.socket!.ref()
    exchange.attach(this)
  }

  /** The answer is complete: back to the pool, or closed when it cannot carry another. */
  finished(reusable: boolean): void {
    this.exchange = undefined
    this.served++
    this.resume()
    if (reusable && !this.closed) this.pool.release(this)
    else this.destroy()
  }

  destroy(): void {
    this.exchange = undefined
    if (this.closed) return
    this.closed = true
    this.pool.forget(this)
    this.socket?.terminate()
  }

  onClose(error?: Error): void {
    const exchange = this.exchange
    this.closed = true
    this.exchange = undefined
    this.pool.forget(this)
    exchange?.closed(error)
  }
}

const HANDLERS: SocketHandler<Connection> = {
  data(socket, bytes) {
    const connection = socket.data
    if (connection.exchange) connection.exchange.receive(bytes)
    // Bytes nobody asked for: the connection cannot be trusted with another request.
    else connection.destroy()
  },
  drain(socket) {
    socket.data.exchange?.flush()
  },
  end(socket) {
    // The engine closed its side: the answer (if read until close) is over, and so is the connection.
    socket.data.onClose()
    socket.end()
  },
  close(socket, error) {
    socket.data.onClose(error)
  },
  error(socket, error) {
    socket.data.onClose(error)
  },
  connectError() {
    // the Bun.connect promise rejects with the same error: Pool.send handles it there
  },
}

const enum Phase {
  Head,
  Body,
  Done,
}

const enum Framing {
  None,
  Length,
  Chunked,
  UntilClose,
}

type Read = Bun.ReadableStreamDefaultReadResult<Uint8Array>
const DONE: Read = { done: true, value: undefined }

/**
 * One request and its answer on one connection. It is also the answer handed to the caller
 * (EngineResponse), its body, and its body's reader: one object per request instead of four.
 */
class Exchange implements EngineResponse, BodyFlow {
  status = 0
  headers: ResponseHeaders = NO_HEADERS
  private phase = Phase.Head
  private connection: Connection | undefined
  private unsent: Uint8Array | undefined
  private head: Uint8Array | undefined
  private framing = Framing.None
  private remaining = 0
  private chunked: ChunkedDecoder | undefined
  private reusable = true
  private retried = false
  private received = false
  private failure: Error | undefined
  private readonly chunks: Uint8Array[] = []
  private taken = 0
  private waiting: { resolve(read: Read): void; reject(e: Error): void } | undefined
  private sink: BodySink | undefined
  private sinkEnded = false
  private paused = false
  private whole: { resolve(bytes: Uint8Array[]): void; reject(e: Error): void } | undefined

  constructor(
    private readonly pool: Pool,
    private readonly request: string,
    /** The request's size in bytes (UTF-8), to tell a partial write. */
    private readonly requestBytes: number,
    private readonly signal: AbortSignal | undefined,
    private resolveAnswer: ((answer: EngineResponse) => void) | undefined,
    private rejectAnswer: ((e: Error) => void) | undefined,
  ) {}

  get ok(): boolean {
    return this.status >= 200 && this.status < 300
  }

  get body(): this | null {
    return this.framing === Framing.None ? null : this
  }

  start(): void {
    if (this.signal?.aborted) return this.fail(this.signal.reason as Error)
    this.signal?.addEventListener('abort', this.onAbort)
    this.pool.send(this)
  }

  attach(connection: Connection): void {
    if (this.phase === Phase.Done) return connection.finished(true)
    this.connection = connection
    const written = connection.socket!.write(this.request)
    if (written < 0) {
      // Closed under us: the exchange hears of it (and may go to a new connection), then the socket goes.
      connection.onClose()
      connection.socket!.terminate()
      return
    }
    if (written < this.requestBytes) this.unsent = Buffer.from(this.request).subarray(written)
  }

  flush(): void {
    if (!this.unsent || !this.connection?.socket) return
    const written = this.connection.socket.write(this.unsent)
    this.unsent = written >= this.unsent.length ? undefined : this.unsent.subarray(Math.max(0, written))
  }

  private readonly onAbort = (): void => {
    this.fail((this.signal!.reason as Error) ?? new SocketFailure('ABORT_ERR', 'aborted'))
  }

  receive(bytes: Uint8Array): void {
    this.received = true
    if (this.phase === Phase.Head) {
      const head = this.head ? Buffer.concat([this.head, bytes]) : (bytes as Buffer)
      const end = head.indexOf('\r\n\r\n')
      if (end < 0 || end > MAX_HEAD_BYTES) {
        if (end > MAX_HEAD_BYTES || head.length > MAX_HEAD_BYTES) return this.fail(new EngineError('protocol', `the engine's response head passed ${MAX_HEAD_BYTES} bytes`))
        this.head = head
        return
      }
      this.head = undefined
      if (!this.parseHead(head.toString('latin1', 0, end))) {
        // An interim answer (100 Continue, 103 Early Hints): the real one follows.
        if (this.phase === Phase.Head && head.length > end + 4) this.receive(head.subarray(end + 4))
        return
      }
      this.phase = Phase.Body
      const resolve = this.resolveAnswer!
      this.resolveAnswer = this.rejectAnswer = undefined
      resolve(this)
      bytes = head.subarray(end + 4)
      if (this.framing === Framing.None) {
        if (bytes.length > 0) this.reusable = false
        return this.complete()
      }
      if (bytes.length === 0) return
    }
    if (this.phase !== Phase.Body) {
      // More than the answer: the connection is out of step with the engine.
      this.reusable = false
      return
    }
    if (this.framing === Framing.Chunked) {
      const over = this.chunked!.push(bytes, this.deliver)
      // (a sink may have ended the exchange from within a chunk: then it is over already)
      if (over === undefined || this.isOver()) return
      if (over instanceof Error) return this.fail(new EngineError('protocol', over.message))
      if (over > 0) this.reusable = false
      return this.complete()
    }
    if (this.framing === Framing.Length) {
      if (bytes.length >= this.remaining) {
        if (bytes.length > this.remaining) this.reusable = false
        if (this.remaining > 0) this.deliver(bytes.subarray(0, this.remaining))
        this.remaining = 0
        if (this.isOver()) return
        return this.complete()
      }
      this.remaining -= bytes.length
    }
    this.deliver(bytes)
  }

  /** False for an interim (1xx) answer. */
  private parseHead(text: string): boolean {
    const lines = text.split('\r\n')
    const status = /^HTTP\/1\.([01]) (\d{3})/.exec(lines[0]!)
    if (!status) {
      this.fail(new EngineError('protocol', `the engine did not answer in HTTP/1.1 (${JSON.stringify(lines[0]!.slice(0, 40))})`))
      return false
    }
    this.status = Number(status[2])
    if (this.status >= 100 && this.status < 200) return false
    const fields = new Map<string, string>()
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i]!
      const colon = line.indexOf(':')
      if (colon <= 0) continue
      const name = line.slice(0, colon).trim().toLowerCase()
      const value = line.slice(colon + 1).trim()
      const earlier = fields.get(name)
      fields.set(name, earlier === undefined ? value : `${earlier}, ${value}`)
    }
    this.headers = new HeaderFields(fields)
    const connection = fields.get('connection')?.toLowerCase()
    if (connection?.includes('close') || (status[1] === '0' && !connection?.includes('keep-alive'))) this.reusable = false
    const encoding = fields.get('content-encoding')
    if (encoding && encoding.toLowerCase() !== 'identity') {
      this.fail(new EngineError('protocol', `the engine answered with content-encoding ${encoding} although the gateway asked for identity`))
      return false
    }
    const length = fields.get('content-length')
    if (this.status === 204 || this.status === 304 || this.request.startsWith('HEAD ')) this.framing = Framing.None
    else if (fields.get('transfer-encoding')?.toLowerCase().includes('chunked')) {
      this.framing = Framing.Chunked
      this.chunked = new ChunkedDecoder()
    } else if (length !== undefined) {
      if (!/^\d+$/.test(length)) {
        this.fail(new EngineError('protocol', `the engine sent an invalid content-length (${JSON.stringify(length)})`))
        return false
      }
      this.remaining = Number(length)
      this.framing = this.remaining === 0 ? Framing.None : Framing.Length
    } else {
      this.framing = Framing.UntilClose
      this.reusable = false
    }
    return true
  }

  /** The exchange has ended (a phase check TypeScript does not narrow away inside receive). */
  private isOver(): boolean {
    return this.phase === Phase.Done
  }

  private readonly deliver = (bytes: Uint8Array): void => {
    // Cancelled or failed from within an earlier chunk of the same read: nothing more is handed on.
    if (this.sinkEnded || this.phase === Phase.Done) return
    if (this.sink && !this.paused && this.taken === this.chunks.length) return this.sink.chunk(bytes)
    const waiting = this.waiting
    if (waiting) {
      this.waiting = undefined
      waiting.resolve({ done: false, value: bytes })
    } else this.chunks.push(bytes)
  }

  private complete(): void {
    this.phase = Phase.Done
    this.signal?.removeEventListener('abort', this.onAbort)
    const connection = this.connection
    this.connection = undefined
    connection?.finished(this.reusable && !this.unsent)
    this.settle()
  }

  /** The socket closed under this exchange. */
  closed(error?: Error): void {
    if (this.phase === Phase.Done) return
    if (this.phase === Phase.Body && this.framing === Framing.UntilClose && !error) {
      this.connection = undefined
      return this.complete()
    }
    // A reused connection the engine had closed before it read this request: send it on a new one.
    const connection = this.connection
    if (this.phase === Phase.Head && !this.received && !this.retried && connection && connection.served > 0) {
      this.retried = true
      this.connection = undefined
      this.unsent = undefined
      return this.pool.send(this, true)
    }
    this.connection = undefined
    this.fail(
      error ??
        new SocketFailure(this.phase === Phase.Head ? 'ConnectionClosed' : 'ECONNRESET', this.phase === Phase.Head ? 'connection closed by the engine' : 'connection closed by the engine mid-answer'),
    )
  }

  /** Ends the exchange with an error: the caller's promise or its pending read rejects. */
  fail(error: Error): void {
    if (this.phase === Phase.Done) return
    this.phase = Phase.Done
    this.failure = error
    this.signal?.removeEventListener('abort', this.onAbort)
    this.connection?.destroy()
    this.connection = undefined
    const reject = this.rejectAnswer
    this.resolveAnswer = this.rejectAnswer = undefined
    reject?.(error)
    this.settle()
  }

  private settle(): void {
    if (this.sink) {
      if (this.failure) this.chunks.length = this.taken = 0
      if (this.failure || !this.paused) this.flushToSink()
    }
    const waiting = this.waiting
    if (waiting) {
      this.waiting = undefined
      if (this.failure) waiting.reject(this.failure)
      else waiting.resolve(DONE)
    }
    const whole = this.whole
    if (whole) {
      this.whole = undefined
      if (this.failure) whole.reject(this.failure)
      else whole.resolve(this.unread())
    }
  }

  // The body, read as a stream (getReader/read/cancel) or whole (text/json).
  getReader(): this {
    return this
  }

  read(): Promise<Read> {
    if (this.taken < this.chunks.length) {
      const value = this.chunks[this.taken++]!
      if (this.taken === this.chunks.length) this.chunks.length = this.taken = 0
      return Promise.resolve({ done: false, value })
    }
    if (this.failure) return Promise.reject(this.failure)
    if (this.phase === Phase.Done) return Promise.resolve(DONE)
    // As a locked Fetch body allows: one reader, one read at a time.
    if (this.waiting || this.whole) return Promise.reject(new TypeError('the body is already being read'))
    return new Promise((resolve, reject) => (this.waiting = { resolve, reject }))
  }

  cancel(): Promise<void> {
    this.sinkEnded = true
    if (this.phase !== Phase.Done) {
      this.reusable = false
      this.phase = Phase.Done
      this.signal?.removeEventListener('abort', this.onAbort)
      this.connection?.destroy()
      this.connection = undefined
      const waiting = this.waiting
      this.waiting = undefined
      waiting?.resolve(DONE)
    }
    this.chunks.length = this.taken = 0
    return Promise.resolve()
  }

  releaseLock(): void {}

  // The body pushed into a sink (BodyFlow): each chunk handed on from the socket's read, no promise.
  subscribe(sink: BodySink): BodyFlow {
    this.sink = sink
    if (this.taken < this.chunks.length || this.phase === Phase.Done) queueMicrotask(this.flushToSink)
    return this
  }

  pause(): void {
    this.paused = true
    this.connection?.pause()
  }

  resume(): void {
    this.paused = false
    this.connection?.resume()
    this.flushToSink()
  }

  /** Hands the sink what is queued while it is not paused, then the end once the body is over. */
  private readonly flushToSink = (): void => {
    const sink = this.sink
    if (!sink || this.sinkEnded) return
    while (!this.paused && !this.sinkEnded && this.taken < this.chunks.length) sink.chunk(this.chunks[this.taken++]!)
    if (this.taken === this.chunks.length) this.chunks.length = this.taken = 0
    if (this.phase === Phase.Done && (this.failure || (!this.paused && this.chunks.length === 0)) && !this.sinkEnded) {
      this.sinkEnded = true
      sink.end(this.failure)
    }
  }

  async text(): Promise<string> {
    if (this.waiting || this.whole) throw new TypeError('the body is already being read')
    const chunks = this.phase === Phase.Done ? this.unread() : await new Promise<Uint8Array[]>((resolve, reject) => (this.whole = { resolve, reject }))
    if (this.failure) throw this.failure
    // The chunks are views of the Buffers Bun's socket reads into.
    if (chunks.length === 1) return (chunks[0] as Buffer).toString('utf8')
    return Buffer.concat(chunks).toString('utf8')
  }

  /** The chunks not yet read, taken. */
  private unread(): Uint8Array[] {
    const chunks = this.chunks.slice(this.taken)
    this.chunks.length = this.taken = 0
    return chunks
  }

  async json(): Promise<unknown> {
    return JSON.parse(await this.text())
  }
}

class HeaderFields implements ResponseHeaders {
  constructor(private readonly fields: Map<string, string>) {}

  get(name: string): string | null {
    return this.fields.get(name.toLowerCase()) ?? null
  }
}

const NO_HEADERS = new HeaderFields(new Map())
