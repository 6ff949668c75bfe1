// One request to an engine and its answer, on one kept-alive connection (http1-connection.ts): the
// request is written (the rest on drain when the socket pushes back), the answer's head parsed, and
// its body handed on as it arrives: to a reader, to text(), or pushed into a sink (BodyFlow). A
// reused connection the engine had closed before reading the request gets it again on a new one.
import { EngineError, type BodyFlow, type BodySink, type CallSignal, type EngineResponse, type ResponseHeaders } from './engine-client'
import { ChunkedDecoder } from './http1-chunked'
import { SocketFailure, type Connection, type Pool } from './http1-connection'
import { Framing, NO_HEADERS, parseResponseHead } from './http1-head'

const MAX_HEAD_BYTES = 64 * 1024

/**
 * Deferrable engine requests (non-streamed answers) made in this turn of the event loop after its
 * first, written together at its end. Written one by one as each client request is handled, each could
 * wake the engine for one request; the first goes at once (an idle gateway adds no wait), and an engine
 * woken by it finds the rest arriving together. Measured on loopback at saturation: +3% requests per
 * second (7 of 8 paired rounds). Streams are written at once: at 1 000 streams, waiting for the turn's
 * end (which also relays thousands of chunks) added ~0.17 ms to the first token (bench/RESULTS.md, session 9).
 */
const queued: Exchange[] = []
let turnOpen = false

function endTurn(): void {
  turnOpen = false
  for (const exchange of queued.splice(0)) exchange.send()
}

const enum Phase {
  Head,
  Body,
  Done,
}

type Read = Bun.ReadableStreamDefaultReadResult<Uint8Array>
const DONE: Read = { done: true, value: undefined }

/**
 * One request and its answer on one connection. It is also the answer handed to the caller
 * (EngineResponse), its body, and its body's reader: one object per request instead of four.
 */
export class Exchange implements EngineResponse, BodyFlow {
  status = 0
  headers: ResponseHeaders = NO_HEADERS
  private phase = Phase.Head
  private connection: Connection | undefined
  private unsent: Uint8Array | undefined
  private head: Uint8Array | undefined
  private framing: Framing = Framing.None
  private remaining = 0
  private chunked: ChunkedDecoder | undefined
  private reusable = true
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
    /** The request as written (dropped once the answer's head is in: no resending after that). */
    private request: string,
    /** The request's size in bytes (UTF-8), to tell a partial write. */
    private readonly requestBytes: number,
    private readonly signal: CallSignal | undefined,
    private resolveAnswer: ((answer: EngineResponse) => void) | undefined,
    private rejectAnswer: ((e: Error) => void) | undefined,
  ) {}

  get ok(): boolean {
    return this.status >= 200 && this.status < 300
  }

  get body(): this | null {
    return this.framing === Framing.None ? null : this
  }

  /** Sends the request; a deferrable one that is not its turn's first, at the turn's end (see queued). */
  start(deferrable = false): void {
    if (this.signal?.aborted) return this.fail(this.signal.reason as Error)
    this.signal?.addEventListener('abort', this.onAbort)
    if (deferrable) {
      if (turnOpen) {
        queued.push(this)
        return
      }
      turnOpen = true
      setImmediate(endTurn)
    }
    this.pool.send(this)
  }

  /** Writes a queued request on a connection, unless it ended meanwhile (aborted). */
  send(): void {
    if (this.phase === Phase.Done) return
    try {
      this.pool.send(this)
    } catch (e) {
      // Not expected of a socket write; the caller hears of it, and the requests queued after go on.
      this.fail(e as Error)
    }
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
      const parsed = parseResponseHead(head.toString('latin1', 0, end), this.request.startsWith('HEAD '))
      if (parsed instanceof EngineError) return this.fail(parsed)
      if (parsed === 'interim') {
        // An interim answer (100 Continue, 103 Early Hints): the real one follows.
        if (head.length > end + 4) this.receive(head.subarray(end + 4))
        return
      }
      this.status = parsed.status
      this.headers = parsed.headers
      this.framing = parsed.framing
      this.remaining = parsed.length
      if (!parsed.keepAlive) this.reusable = false
      if (this.framing === Framing.Chunked) this.chunked = new ChunkedDecoder()
      this.phase = Phase.Body
      this.request = ''
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

  /** Ends the exchange: no more listening for the abort; gives back the connection, if still held. */
  private over(): Connection | undefined {
    this.phase = Phase.Done
    this.signal?.removeEventListener('abort', this.onAbort)
    const connection = this.connection
    this.connection = undefined
    return connection
  }

  private complete(): void {
    this.over()?.finished(this.reusable && !this.unsent)
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
    // (Only once: the new connection has served nothing.)
    if (this.phase === Phase.Head && !this.received && connection && connection.served > 0) {
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
    this.failure = error
    this.over()?.destroy()
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
      this.over()?.destroy()
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

  text(): Promise<string> {
    if (this.waiting || this.whole) return Promise.reject(new TypeError('the body is already being read'))
    // An answer already complete (most non-streamed ones: head and body in one read) is decoded at once.
    if (this.phase === Phase.Done) return this.failure ? Promise.reject(this.failure) : Promise.resolve(decode(this.unread()))
    return new Promise<Uint8Array[]>((resolve, reject) => (this.whole = { resolve, reject })).then((chunks) => {
      if (this.failure) throw this.failure
      return decode(chunks)
    })
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

/** The body's text; the chunks are views of the Buffers Bun's socket reads into. */
function decode(chunks: Uint8Array[]): string {
  if (chunks.length === 1) return (chunks[0] as Buffer).toString('utf8')
  return Buffer.concat(chunks).toString('utf8')
}
