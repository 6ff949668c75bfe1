// Engine calls over HTTP/1.1 on Bun's TCP sockets, with a pool of kept-alive connections per engine
// address (http1-connection.ts; one request and its answer: http1-exchange.ts). Why not `fetch`: Bun's
// fetch hands every request to its HTTP client thread and the answer back (14.7 µs of that thread per
// request, and 7.5 µs of the caller's); here the engine's socket is read on the gateway's own thread,
// every streamed chunk is a plain callback that can be pushed on (BodyFlow), and Bun's cap of 256
// fetches in flight does not apply. Measured (bench/RESULTS.md, session 6): ~50 µs less p50 per request
// below saturation and a quarter less CPU per stream; at saturation the same CPU per request (the
// socket writes the fetch thread did in parallel are on the JS thread). Plain http:// only (what
// engines on a GPU node serve); anything else (https, credentials in the URL) goes to `fetch`.
import { EngineError, fetchEngine, type EngineFetch, type EngineRequestInit, type EngineResponse } from './engine-client'
import { Pool } from './http1-connection'
import { Exchange } from './http1-exchange'

/** Parsed engine URLs kept (engines × paths; cleared when passed). */
const MAX_TARGETS = 1024

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
export function createEngineHttp(fallback: EngineFetch = fetchEngine): EngineHttp {
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
        new Exchange(target.pool, head + (init.body ?? ''), Buffer.byteLength(head) + bodyBytes, init.signal, resolve, reject).start(init.deferrable === true)
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
