// A fake inference engine for integration tests: a real HTTP server on 127.0.0.1 that answers like
// an OpenAI-compatible engine (the built-in mock engine's logic), records every request it receives,
// and can be scripted per request (errors, custom SSE streams, slowness), stopped and restarted.
import type { Server } from 'bun'
import { createMockEngine } from '../../src/engines/mock-engine'

export interface RecordedRequest {
  readonly method: string
  readonly path: string
  readonly headers: Record<string, string>
  readonly text: string
  /** The parsed JSON body (undefined for GET). */
  readonly body: any
  /** Whether the client (the gateway) aborted this request before it finished. */
  aborted: boolean
  /** The client's TCP port: requests with the same port came over one kept-alive connection. */
  readonly clientPort: number
}

/** Return a Response to take over a request, or undefined to let the mock engine answer it. */
export type Override = (req: RecordedRequest, signal: AbortSignal) => Response | Promise<Response> | undefined

export interface FakeEngineOptions {
  models?: string[]
  chunkDelayMs?: number
  port?: number
}

export interface FakeEngine {
  /** Base URL including /v1, as an operator would configure it. */
  readonly url: string
  readonly port: number
  readonly requests: RecordedRequest[]
  /** Requests to an inference path (not discovery or health). */
  inference(): RecordedRequest[]
  override: Override | undefined
  stop(): Promise<void>
  restart(): Promise<void>
}

export async function startFakeEngine(options: FakeEngineOptions = {}): Promise<FakeEngine> {
  const mock = createMockEngine({ models: options.models ?? ['fake-model'], chunkDelayMs: options.chunkDelayMs ?? 0, ownedBy: 'fake-owner' })
  let server: Server<unknown> | undefined
  const engine: FakeEngine = {
    url: '',
    port: 0,
    requests: [],
    override: undefined,
    inference: () => engine.requests.filter((r) => r.method === 'POST'),
    async stop() {
      await server?.stop(true)
      server = undefined
    },
    async restart() {
      if (!server) listen(engine.port)
    },
  }
  const listen = (port: number) => {
    server = Bun.serve({
      hostname: '127.0.0.1',
      port,
      idleTimeout: 0,
      async fetch(request, srv) {
        const url = new URL(request.url)
        const clientPort = srv.requestIP(request)?.port ?? 0
        const text = await request.text()
        const recorded: RecordedRequest = {
          method: request.method,
          path: url.pathname,
          headers: Object.fromEntries(request.headers),
          text,
          body: text ? safeJson(text) : undefined,
          aborted: false,
          clientPort,
        }
        request.signal.addEventListener('abort', () => (recorded.aborted = true))
        engine.requests.push(recorded)
        const custom = await engine.override?.(recorded, request.signal)
        if (custom) return custom
        return mock.handle(new Request(request.url, { method: request.method, headers: request.headers, body: text || undefined, signal: request.signal }))
      },
    })
    Object.assign(engine, { port: server.port, url: `http://127.0.0.1:${server.port}/v1` })
  }
  listen(options.port ?? 0)
  return engine
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

export interface ScriptedStreamOptions {
  /** Pause before each event, in milliseconds. */
  delayMs?: number
  /** End the connection abruptly after this many events, without [DONE]. */
  dieAfter?: number
  signal?: AbortSignal
}

/** An SSE response sending the given events (objects become `data: {json}`, strings are sent raw). */
export function sseResponse(events: (object | string)[], { delayMs = 0, dieAfter, signal }: ScriptedStreamOptions = {}): Response {
  const encoder = new TextEncoder()
  let i = 0
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (delayMs) await Bun.sleep(delayMs)
      if (dieAfter !== undefined && i >= dieAfter) {
        controller.error(new Error('engine died'))
        return
      }
      if (i >= events.length) {
        controller.close()
        return
      }
      if (signal?.aborted) return controller.error(signal.reason)
      const e = events[i++]!
      controller.enqueue(encoder.encode(typeof e === 'string' ? e : `data: ${JSON.stringify(e)}\n\n`))
    },
  })
  return new Response(stream, { headers: { 'content-type': 'text/event-stream' } })
}

export function jsonResponse(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } })
}
