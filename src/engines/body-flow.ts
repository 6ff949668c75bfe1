// An engine body as a flow of chunks pushed into a sink, whatever the body is: the gateway's HTTP/1.1
// client pushes them itself, straight from its socket; a Fetch body (an https engine, a test's stub)
// is read one chunk at a time and pushed, pausing when the sink asks.
import type { BodyFlow, BodySink, EngineBody } from './engine-client'

export function subscribeBody(body: EngineBody, sink: BodySink): BodyFlow {
  return body.subscribe ? body.subscribe(sink) : new ReaderPump(body, sink)
}

class ReaderPump implements BodyFlow {
  private readonly reader: ReturnType<EngineBody['getReader']>
  private paused = false
  private reading = false
  private over = false

  constructor(
    body: EngineBody,
    private readonly sink: BodySink,
  ) {
    this.reader = body.getReader()
    this.pump()
  }

  pause(): void {
    this.paused = true
  }

  resume(): void {
    this.paused = false
    this.pump()
  }

  cancel(): void {
    if (this.over) return
    this.over = true
    this.reader.cancel().catch(() => {})
  }

  private pump(): void {
    if (this.paused || this.reading || this.over) return
    this.reading = true
    this.reader.read().then(this.onRead, this.onFailure)
  }

  private readonly onRead = (result: Bun.ReadableStreamDefaultReadResult<Uint8Array>): void => {
    this.reading = false
    if (this.over) return
    if (result.done) {
      this.over = true
      this.sink.end()
      return
    }
    this.sink.chunk(result.value)
    this.pump()
  }

  private readonly onFailure = (e: unknown): void => {
    this.reading = false
    if (this.over) return
    this.over = true
    this.sink.end(e as Error)
  }
}
