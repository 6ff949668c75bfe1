// The head of an engine's HTTP/1.1 answer: status, header fields, and how its body is framed
// (RFC 9112 §6.3): no body, a content-length, chunked, or until the connection closes.
import { EngineError, type ResponseHeaders } from './engine-client'

export const Framing = { None: 0, Length: 1, Chunked: 2, UntilClose: 3 } as const
export type Framing = (typeof Framing)[keyof typeof Framing]

export interface ResponseHead {
  readonly status: number
  readonly headers: HeaderFields
  readonly framing: Framing
  /** The body's length, for Framing.Length. */
  readonly length: number
  /** The connection may carry another request after this answer. */
  readonly keepAlive: boolean
}

/**
 * Parses a head (the text before its blank line). `bodiless`: the answer to a HEAD request. Returns
 * 'interim' for a 1xx answer (the real one follows), or an EngineError for what cannot be used.
 */
export function parseResponseHead(text: string, bodiless: boolean): ResponseHead | 'interim' | EngineError {
  const lines = text.split('\r\n')
  const statusLine = /^HTTP\/1\.([01]) (\d{3})/.exec(lines[0]!)
  if (!statusLine) return new EngineError('protocol', `the engine did not answer in HTTP/1.1 (${JSON.stringify(lines[0]!.slice(0, 40))})`)
  const status = Number(statusLine[2])
  if (status >= 100 && status < 200) return 'interim'
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
  const connection = fields.get('connection')?.toLowerCase()
  let keepAlive = !(connection?.includes('close') || (statusLine[1] === '0' && !connection?.includes('keep-alive')))
  const encoding = fields.get('content-encoding')
  if (encoding && encoding.toLowerCase() !== 'identity')
    return new EngineError('protocol', `the engine answered with content-encoding ${encoding} although the gateway asked for identity`)
  const contentLength = fields.get('content-length')
  let framing: Framing
  let length = 0
  if (status === 204 || status === 304 || bodiless) framing = Framing.None
  else if (fields.get('transfer-encoding')?.toLowerCase().includes('chunked')) framing = Framing.Chunked
  else if (contentLength !== undefined) {
    if (!/^\d+$/.test(contentLength)) return new EngineError('protocol', `the engine sent an invalid content-length (${JSON.stringify(contentLength)})`)
    length = Number(contentLength)
    framing = length === 0 ? Framing.None : Framing.Length
  } else {
    framing = Framing.UntilClose
    keepAlive = false
  }
  return { status, headers: new HeaderFields(fields), framing, length, keepAlive }
}

export class HeaderFields implements ResponseHeaders {
  constructor(private readonly fields: Map<string, string>) {}

  get(name: string): string | null {
    return this.fields.get(name.toLowerCase()) ?? null
  }
}

export const NO_HEADERS = new HeaderFields(new Map())
