// A body pushed into a sink: the gateway's HTTP/1.1 client pushes straight from its socket; a Fetch
// body is read chunk by chunk and pushed. Both pause when asked, resume, end once, and stop on cancel.
import { afterEach, expect, test } from 'bun:test'
import { subscribeBody } from '../../src/engines/body-flow'
import type { BodyFlow, BodySink, EngineBody } from '../../src/engines/engine-client'
import { createEngineHttp } from '../../src/engines/http1'
import { waitFor } from '../helpers/wait'

const cleanup: (() => unknown)[] = []
afterEach(async () => {
  for (const stop of cleanup.splice(0).reverse()) await stop()
})

const decoder = new TextDecoder()

/** A sink that records what it is given. */
function recorder(onChunk?: (text: string, flow: () => BodyFlow) => void) {
  const got: string[] = []
  const ends: (Error | undefined)[] = []
  let flow: BodyFlow | undefined
  const sink: BodySink = {
    chunk: (bytes) => {
      const text = decoder.decode(bytes)
      got.push(text)
      onChunk?.(text, () => flow!)
    },
    end: (error) => void ends.push(error),
  }
  return { sink, got, ends, setFlow: (f: BodyFlow) => (flow = f) }
}

/** A Fetch body whose chunks the test releases one at a time. */
function manualStream() {
  let controller!: ReadableStreamDefaultController<Uint8Array>
  let cancelled = false
  const stream = new ReadableStream<Uint8Array>({
    start: (c) => void (controller = c),
    cancel: () => void (cancelled = true),
  })
  return { body: new Response(stream).body as unknown as EngineBody, send: (text: string) => controller.enqueue(new TextEncoder().encode(text)), close: () => controller.close(), fail: (e: Error) => controller.error(e), cancelled: () => cancelled }
}

test('a Fetch body is pushed chunk by chunk, then its end, once', async () => {
  const source = manualStream()
  const r = recorder()
  r.setFlow(subscribeBody(source.body, r.sink))
  source.send('a')
  source.send('b')
  await waitFor(() => r.got.length === 2)
  source.close()
  await waitFor(() => r.ends.length === 1)
  expect(r.got).toEqual(['a', 'b'])
  expect(r.ends).toEqual([undefined])
})

test('a paused Fetch body pushes nothing until resumed', async () => {
  const source = manualStream()
  const r = recorder((_, flow) => flow().pause())
  const flow = subscribeBody(source.body, r.sink)
  r.setFlow(flow)
  source.send('a')
  source.send('b')
  await waitFor(() => r.got.length === 1)
  await Bun.sleep(20)
  expect(r.got).toEqual(['a'])
  flow.resume()
  await waitFor(() => r.got.length === 2)
  expect(r.got).toEqual(['a', 'b'])
})

test('a Fetch body that fails ends the sink with the error', async () => {
  const source = manualStream()
  const r = recorder()
  r.setFlow(subscribeBody(source.body, r.sink))
  source.send('a')
  await waitFor(() => r.got.length === 1)
  source.fail(new Error('reset'))
  await waitFor(() => r.ends.length === 1)
  expect(r.ends[0]?.message).toBe('reset')
})

test('a cancelled Fetch body is cancelled at its source, and the sink hears nothing more', async () => {
  const source = manualStream()
  const r = recorder()
  const flow = subscribeBody(source.body, r.sink)
  source.send('a')
  await waitFor(() => r.got.length === 1)
  flow.cancel()
  await waitFor(() => source.cancelled())
  await Bun.sleep(10)
  expect(r.ends).toEqual([])
})

/** An engine that streams the chunks the test sends, over chunked HTTP/1.1. */
function rawEngine() {
  let write: ((text: string) => void) | undefined
  let closed = false
  const listener = Bun.listen({
    hostname: '127.0.0.1',
    port: 0,
    socket: {
      data(socket) {
        write = (text) => void socket.write(text)
        socket.write('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n')
      },
      close() {
        closed = true
      },
    },
  })
  cleanup.push(() => listener.stop(true))
  const chunk = (text: string) => `${Buffer.byteLength(text).toString(16)}\r\n${text}\r\n`
  return {
    url: `http://127.0.0.1:${listener.port}/`,
    send: (text: string) => write!(chunk(text)),
    /** Several chunks in one write, so they come in one socket read. */
    sendTogether: (...texts: string[]) => write!(texts.map(chunk).join('')),
    finish: () => write!('0\r\n\r\n'),
    closed: () => closed,
    ready: () => write !== undefined,
  }
}

test("the HTTP/1.1 client's body pushes each chunk as it arrives, then its end", async () => {
  const engine = rawEngine()
  const http = createEngineHttp()
  cleanup.push(() => http.closeIdle())
  const response = await http.fetch(engine.url, {})
  const r = recorder()
  r.setFlow(subscribeBody(response.body!, r.sink))
  engine.send('one')
  await waitFor(() => r.got.length === 1)
  engine.send('two')
  await waitFor(() => r.got.length === 2)
  engine.finish()
  await waitFor(() => r.ends.length === 1)
  expect(r.got).toEqual(['one', 'two'])
  expect(r.ends).toEqual([undefined])
})

test("the HTTP/1.1 client's paused body stops reading its connection, and on resume goes on to its end", async () => {
  const engine = rawEngine()
  const http = createEngineHttp()
  cleanup.push(() => http.closeIdle())
  const response = await http.fetch(engine.url, {})
  const r = recorder((text, flow) => {
    if (text === 'one') flow().pause()
  })
  const flow = subscribeBody(response.body!, r.sink)
  r.setFlow(flow)
  engine.send('one')
  await waitFor(() => r.got.length === 1)
  engine.send('two')
  engine.finish()
  await Bun.sleep(30)
  expect(r.got).toEqual(['one'])
  expect(r.ends).toEqual([])
  flow.resume()
  await waitFor(() => r.ends.length === 1)
  expect(r.got).toEqual(['one', 'two'])
  expect(r.ends).toEqual([undefined])
})

test("the HTTP/1.1 client's cancelled body closes the engine connection and ends nothing", async () => {
  const engine = rawEngine()
  const http = createEngineHttp()
  cleanup.push(() => http.closeIdle())
  const response = await http.fetch(engine.url, {})
  const r = recorder()
  const flow = subscribeBody(response.body!, r.sink)
  engine.send('one')
  await waitFor(() => r.got.length === 1)
  flow.cancel()
  await waitFor(() => engine.closed())
  expect(r.ends).toEqual([])
})

test("chunks that came with the answer's head are pushed after subscribe returns, not during it", async () => {
  const listener = Bun.listen({
    hostname: '127.0.0.1',
    port: 0,
    socket: { data: (socket) => void socket.write('HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello') },
  })
  cleanup.push(() => listener.stop(true))
  const http = createEngineHttp()
  cleanup.push(() => http.closeIdle())
  const response = await http.fetch(`http://127.0.0.1:${listener.port}/`, {})
  const r = recorder()
  subscribeBody(response.body!, r.sink)
  expect(r.got).toEqual([])
  await waitFor(() => r.ends.length === 1)
  expect(r.got).toEqual(['hello'])
})

// Review of the push-based body: chunks of one socket read are pushed one by one from the chunked
// decoder's loop, which must stop as soon as the sink has been told the end or has cancelled.
test("the HTTP/1.1 client's body cancelled from within chunk() pushes nothing more, not even the rest of the same read", async () => {
  const engine = rawEngine()
  const http = createEngineHttp()
  cleanup.push(() => http.closeIdle())
  const response = await http.fetch(engine.url, {})
  const r = recorder((text, flow) => {
    if (text === 'one') flow().cancel()
  })
  r.setFlow(subscribeBody(response.body!, r.sink))
  await waitFor(engine.ready)
  engine.sendTogether('one', 'two', 'three')
  await waitFor(() => engine.closed())
  await Bun.sleep(10)
  expect(r.got).toEqual(['one'])
  expect(r.ends).toEqual([])
})

test("the HTTP/1.1 client's body aborted from within chunk() ends the sink, and no chunk follows the end", async () => {
  const engine = rawEngine()
  const http = createEngineHttp()
  cleanup.push(() => http.closeIdle())
  const abort = new AbortController()
  const response = await http.fetch(engine.url, { signal: abort.signal })
  const order: string[] = []
  subscribeBody(response.body!, {
    chunk: (bytes) => {
      order.push(decoder.decode(bytes))
      if (order.length === 1) abort.abort(new Error('deadline'))
    },
    end: (error) => void order.push(`end: ${error?.message}`),
  })
  await waitFor(engine.ready)
  engine.sendTogether('one', 'two', 'three')
  await waitFor(() => engine.closed())
  await Bun.sleep(10)
  expect(order).toEqual(['one', 'end: deadline'])
})
