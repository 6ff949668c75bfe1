// The one place that sends a request to an engine. It turns every way a call can fail into an
// EngineError whose kind says whether another engine may be tried.
/**
 * What ends a call early. An AbortSignal is one; so is the gateway's Deadline (proxy/deadline.ts),
 * which keeps no AbortSignal unless something needs one (abortSignalOf): the gateway's own engine
 * client listens to it directly.
 */
export interface CallSignal {
  readonly aborted: boolean
  readonly reason: unknown
  addEventListener(type: 'abort', listener: () => void): void
  removeEventListener(type: 'abort', listener: () => void): void
}

/** An AbortSignal that aborts with `signal`, for what takes nothing else (fetch, Request). */
export function abortSignalOf(signal: CallSignal | undefined): AbortSignal | undefined {
  if (signal === undefined || signal instanceof AbortSignal) return signal
  const controller = new AbortController()
  if (signal.aborted) controller.abort(signal.reason)
  else signal.addEventListener('abort', () => controller.abort(signal.reason))
  return controller.signal
}

/** What the gateway sends an engine: a JSON body (or none), headers, and what ends the call early. */
export interface EngineRequestInit {
  readonly method?: string
  readonly headers?: Record<string, string> | Headers
  readonly body?: string
  readonly signal?: CallSignal
  /**
   * The request may wait for the end of the event-loop turn, to be written with the others made in it
   * (the gateway's HTTP/1.1 client; see http1-exchange.ts): set for non-streamed answers, where
   * throughput counts; a stream's first token is not kept waiting.
   */
  readonly deferrable?: boolean
}

export interface ResponseHeaders {
  get(name: string): string | null
}

/** An engine's body read as a stream. */
export interface EngineBodyReader {
  read(): Promise<Bun.ReadableStreamDefaultReadResult<Uint8Array>>
  cancel(reason?: unknown): Promise<void>
  releaseLock(): void
}

/** Where a pushed body's chunks go, as they arrive (engines/body-flow.ts). */
export interface BodySink {
  chunk(bytes: Uint8Array): void
  /** The body is over: whole, or cut short by `error`. Called once; no chunk follows. */
  end(error?: Error): void
}

/** The controls of a body being pushed into a sink. */
export interface BodyFlow {
  /** Stop pushing (the source stops reading, so the engine feels the backpressure). */
  pause(): void
  resume(): void
  /** Stop for good and drop the connection; the sink hears nothing more. */
  cancel(): void
}

export interface EngineBody {
  getReader(): EngineBodyReader
  cancel(reason?: unknown): Promise<void>
  /** Pushes the chunks into `sink` (asynchronously: never from within this call). */
  subscribe?(sink: BodySink): BodyFlow
}

/**
 * The part of the Fetch API's Response the gateway reads from an engine's answer: a `fetch` Response
 * is one, and so is the answer of the gateway's own HTTP/1.1 client (engines/http1.ts), whose body
 * can also push its chunks (no promise per chunk).
 */
export interface EngineResponse {
  readonly status: number
  readonly ok: boolean
  readonly headers: ResponseHeaders
  readonly body: EngineBody | null
  text(): Promise<string>
  json(): Promise<unknown>
}

/** How engines are called: `fetch`, the gateway's HTTP/1.1 client, a test's stub. */
export type EngineFetch = (url: string, init: EngineRequestInit) => Promise<EngineResponse>

/** Bun's `fetch` as an EngineFetch. */
export const fetchEngine: EngineFetch = (url, init) => fetch(url, { ...init, signal: abortSignalOf(init.signal) })

/** What the client needs to know about an engine to call it. */
export interface EngineEndpoint {
  readonly id: string
  readonly baseUrl: string
  readonly apiKey?: string
  readonly fetch: EngineFetch
}

/**
 * connect: the engine could not be reached or dropped the connection; timeout: it did not answer
 * in time; http: it answered with an error status; protocol: it answered with something unusable.
 */
export type EngineFailureKind = 'connect' | 'timeout' | 'http' | 'protocol'

export class EngineError extends Error {
  constructor(
    readonly kind: EngineFailureKind,
    message: string,
    readonly status?: number,
    /** The engine's error body, when it sent one. */
    readonly body?: string,
  ) {
    super(message)
  }

  /** Safe to try another engine: nothing was accepted, or the engine itself failed. */
  get retryable(): boolean {
    return this.kind !== 'http' || (this.status ?? 500) >= 500
  }
}

/** Raised when the client went away: no answer is owed to anyone. */
export class ClientGone extends Error {
  constructor() {
    super('client disconnected')
  }
}

export interface EngineCall {
  readonly signal: CallSignal
  /** The client's own signal, to tell a disconnect from a timeout. */
  readonly clientSignal: AbortSignal
  readonly headers?: Record<string, string>
  /** See EngineRequestInit.deferrable. */
  readonly deferrable?: boolean
}

export async function postToEngine(engine: EngineEndpoint, path: string, body: string, call: EngineCall): Promise<EngineResponse> {
  const headers: Record<string, string> = { 'content-type': 'application/json', ...call.headers }
  if (engine.apiKey) headers.authorization = `Bearer ${engine.apiKey}`
  let response: EngineResponse
  try {
    response = await engine.fetch(engine.baseUrl + path, { method: 'POST', body, headers, signal: call.signal, deferrable: call.deferrable })
  } catch (e) {
    throw describeFailure(e, call)
  }
  if (response.ok) return response
  const text = await response.text().catch(() => '')
  throw new EngineError('http', `HTTP ${response.status}${engineMessage(text) ? `: ${engineMessage(text)}` : ''}`, response.status, text)
}

/** Bun's socket error codes, in words a client can act on (Bun's own text suggests fetch options). */
const CONNECT_ERRORS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ConnectionRefused: 'connection refused',
  ECONNRESET: 'connection reset by the engine',
  ConnectionClosed: 'connection closed by the engine',
  ETIMEDOUT: 'connection timed out',
  ENOTFOUND: 'engine host not found',
  EHOSTUNREACH: 'engine host unreachable',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'engine TLS certificate not trusted',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'engine TLS certificate is self-signed',
}

/** Maps a thrown fetch or read error to ClientGone or an EngineError. */
export function describeFailure(e: unknown, call: Pick<EngineCall, 'signal' | 'clientSignal'>): Error {
  if (e instanceof EngineError || e instanceof ClientGone) return e
  if (call.clientSignal.aborted) return new ClientGone()
  if (call.signal.aborted) {
    const reason = call.signal.reason
    return new EngineError('timeout', reason instanceof Error && reason.name !== 'AbortError' ? reason.message : 'timed out')
  }
  const err = e as Error & { code?: string }
  return new EngineError('connect', CONNECT_ERRORS[err.code ?? ''] ?? (err.message || String(e)))
}

/** The human message inside an engine's error body, whatever its shape (OpenAI's, vLLM's, plain text). */
export function engineMessage(text: string): string {
  if (!text) return ''
  try {
    const body = JSON.parse(text) as { error?: { message?: unknown } | string; message?: unknown; detail?: unknown }
    if (typeof body.error === 'object' && typeof body.error?.message === 'string') return body.error.message
    if (typeof body.error === 'string') return body.error
    if (typeof body.message === 'string') return body.message
    if (typeof body.detail === 'string') return body.detail
  } catch {
    // not JSON: fall through to the raw text
  }
  return text.length > 500 ? `${text.slice(0, 500)}…` : text
}
