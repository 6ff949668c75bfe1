// Server-sent events framing, as engines speak it: splits a byte stream into complete events
// (blank-line separated) without re-buffering anything beyond the one incomplete event.
const DECODER_OPTIONS = { stream: true } as const

export class SseSplitter {
  private buffer = ''
  private pendingCR = false
  private readonly decoder = new TextDecoder()
  /**
   * The text of the last push when its bytes were exactly whole events (nothing carried over from the
   * read before, not even part of a character the decoder held; nothing left over; no CR rewritten):
   * bytes that can be passed on as they came. Else undefined.
   */
  whole: string | undefined
  /** The bytes pushed so far ended on a line feed: the decoder holds nothing back. */
  private atLineEnd = true

  /** Feeds bytes; returns the events completed by them (each without its trailing blank line). */
  push(bytes: Uint8Array): string[] {
    let text = this.decoder.decode(bytes, DECODER_OPTIONS)
    const cleanStart = this.atLineEnd
    this.atLineEnd = bytes.length > 0 && bytes[bytes.length - 1] === 0x0a
    this.whole = undefined
    if (this.pendingCR) {
      text = `\r${text}`
      this.pendingCR = false
    }
    if (text.includes('\r')) {
      // A CR at the very end may be the first half of a CRLF split across reads: keep it for later.
      if (text.endsWith('\r')) {
        text = text.slice(0, -1)
        this.pendingCR = true
      }
      text = text.replace(/\r\n?/g, '\n')
    } else if (cleanStart && this.atLineEnd && this.buffer === '' && text.endsWith('\n\n')) {
      this.whole = text
      // The usual read: one event, as engines flush one per token.
      const first = text.indexOf('\n\n')
      if (first === text.length - 2 && first > 0) return [text.slice(0, first)]
    }
    this.buffer += text
    const end = this.buffer.lastIndexOf('\n\n')
    if (end < 0) return []
    const complete = this.buffer.slice(0, end)
    this.buffer = this.buffer.slice(end + 2)
    return complete.split('\n\n').filter((e) => e.length > 0 && e !== '\n')
  }

  /** What is left when the stream ends (an event the engine never terminated), if anything. */
  rest(): string | undefined {
    const rest = (this.buffer + this.decoder.decode()).trim()
    this.buffer = ''
    this.pendingCR = false
    return rest || undefined
  }
}

/** The payload of an event: its `data:` lines joined by newlines; undefined for comment-only events. */
export function sseData(event: string): string | undefined {
  if (event.startsWith('data: ') && !event.includes('\n')) return event.slice(6)
  let data: string | undefined
  for (const line of event.split('\n')) {
    if (!line.startsWith('data:')) continue
    const value = line.charCodeAt(5) === 32 ? line.slice(6) : line.slice(5)
    data = data === undefined ? value : `${data}\n${value}`
  }
  return data
}

export const SSE_DONE = 'data: [DONE]\n\n'

export function sseEvent(payload: unknown): string {
  return `data: ${JSON.stringify(payload)}\n\n`
}
