// Stream relay edge cases found in review: backpressure is not engine silence, engines that keep
// sending after [DONE] are cut off (and one that ends keeps its connection), and a stream request
// answered with JSON goes elsewhere.
import { afterEach, expect, test } from 'bun:test'
import { jsonResponse, sseResponse, startFakeEngine, type FakeEngine } from '../helpers/fake-engine'
import { postJson, startGateway, type TestGateway } from '../helpers/gateway'
import { waitFor } from '../helpers/wait'

const cleanup: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const stop of cleanup.splice(0).reverse()) await stop()
})

async function setup(n: number, extra: string[] = [], chunkDelayMs = 0): Promise<[TestGateway, FakeEngine[]]> {
  const engines = await Promise.all(Array.from({ length: n }, () => startFakeEngine({ models: ['m'], chunkDelayMs })))
  for (const e of engines) cleanup.push(() => e.stop())
  const gw = await startGateway([...engines.flatMap((e) => ['--engine', e.url]), ...extra])
  cleanup.push(() => gw.stop())
  return [gw, engines]
}

const body = (extra: object = {}) => ({ model: 'm', messages: [{ role: 'user', content: 'hi' }], stream: true, ...extra })
const chunk = (content: string) => ({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { content }, finish_reason: null }] })

test('a client reading slower than --request-timeout is not mistaken for a silent engine', async () => {
  const [gw, [engine]] = await setup(1, ['--request-timeout', '0.3'])
  // Enough data to fill the socket buffers, so the gateway really has to wait for the client.
  const big = 'x'.repeat(64 * 1024)
  const events = [...Array.from({ length: 200 }, () => chunk(big)), { ...chunk(''), choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] }, 'data: [DONE]\n\n']
  engine!.override = () => sseResponse(events)
  const res = await postJson(gw, '/v1/chat/completions', body())
  const reader = res.body!.getReader()
  const decoder = new TextDecoder()
  let text = decoder.decode((await reader.read()).value)
  await Bun.sleep(800)
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    text += decoder.decode(value, { stream: true })
  }
  // (no toContain on megabytes of text: a failure would print all of it)
  expect(text.slice(-300).includes('"error"')).toBe(false)
  expect(text.slice(-40)).toEndWith('data: [DONE]\n\n')
  expect(gw.registry.all[0]!.state).toBe('READY')
  expect(gw.registry.all[0]!.consecutiveFailures).toBe(0)
})

test('an engine that keeps sending after a [DONE] in a later read is cancelled', async () => {
  const [gw, [engine]] = await setup(1)
  engine!.override = (_req, signal) => {
    const encoder = new TextEncoder()
    let i = 0
    const stream = new ReadableStream<Uint8Array>({
      async pull(controller) {
        await Bun.sleep(5)
        if (signal.aborted) return controller.close()
        const event = i === 2 ? 'data: [DONE]\n\n' : `data: ${JSON.stringify(chunk(`t${i}`))}\n\n`
        i++
        controller.enqueue(encoder.encode(event))
      },
    })
    return new Response(stream, { headers: { 'content-type': 'text/event-stream' } })
  }
  const text = await (await postJson(gw, '/v1/chat/completions', body())).text()
  expect(text).toContain('t1')
  expect(text.endsWith('data: [DONE]\n\n')).toBe(true)
  expect(text).not.toContain('t3')
  await waitFor(() => engine!.inference()[0]!.aborted, 3000, 'engine request cancelled after [DONE]')
})

test('an engine that ends its answer a moment after [DONE] keeps its connection for the next request', async () => {
  const [gw, [engine]] = await setup(1)
  const events = [chunk('a'), { ...chunk(''), choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] }, 'data: [DONE]\n\n']
  // The end of the body comes in a read of its own, after [DONE] (a cancelled body would close the connection).
  engine!.override = () => sseResponse(events, { delayMs: 3 })
  for (let i = 0; i < 5; i++) {
    const text = await (await postJson(gw, '/v1/chat/completions', body())).text()
    expect(text.endsWith('data: [DONE]\n\n')).toBe(true)
    // The client has its [DONE] before the engine's end arrives: give the drain its few milliseconds.
    await Bun.sleep(30)
  }
  expect(engine!.inference()).toHaveLength(5)
  // Every request after the first came over a connection the gateway already had (health probes included).
  const all = engine!.requests
  const firstChat = all.indexOf(engine!.inference()[0]!)
  for (const later of engine!.inference().slice(1)) expect(all.slice(0, firstChat + 1).map((r) => r.clientPort)).toContain(later.clientPort)
  expect(engine!.inference().some((r) => r.aborted)).toBe(false)
})

test('an engine silent after [DONE] is cut off once the drain time is over', async () => {
  const [gw, [engine]] = await setup(1)
  engine!.override = (_req, signal) =>
    new Response(
      new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(new TextEncoder().encode(`data: ${JSON.stringify({ ...chunk('a'), choices: [{ index: 0, delta: { content: 'a' }, finish_reason: 'stop' }] })}\n\ndata: [DONE]\n\n`))
          signal.addEventListener('abort', () => controller.close())
        },
      }),
      { headers: { 'content-type': 'text/event-stream' } },
    )
  const text = await (await postJson(gw, '/v1/chat/completions', body())).text()
  expect(text.endsWith('data: [DONE]\n\n')).toBe(true)
  await waitFor(() => engine!.inference()[0]!.aborted, 3000, 'engine request cancelled after the drain time')
})

test('a stream request answered with JSON instead of SSE is retried on another engine', async () => {
  const [gw, engines] = await setup(2)
  let calls = 0
  for (const e of engines) e.override = () => (calls++ === 0 ? jsonResponse({ error: { message: 'oops' } }) : undefined)
  const text = await (await postJson(gw, '/v1/chat/completions', body())).text()
  expect(text).not.toContain('oops')
  expect(text).toContain('"finish_reason":"stop"')
  expect(text.endsWith('data: [DONE]\n\n')).toBe(true)
})

test('CRLF-framed engine streams split at the CR are relayed intact', async () => {
  const [gw, [engine]] = await setup(1)
  const e1 = `data: ${JSON.stringify(chunk('a'))}`
  engine!.override = () => sseResponse([`${e1}\r`, '\n\r\n', `data: ${JSON.stringify({ ...chunk(''), choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })}\r\n\r\n`, 'data: [DONE]\r\n\r\n'], { delayMs: 5 })
  const text = await (await postJson(gw, '/v1/chat/completions', body())).text()
  const events = text.trim().split('\n\n')
  expect(events[0]).toBe(e1)
  expect(events).toHaveLength(3)
  expect(text).not.toContain('"error"')
})

test('a model id with a malformed percent-escape is a 404, not a 500', async () => {
  const [gw] = await setup(1)
  const res = await gw.fetch('/v1/models/%E0%A4%A')
  expect(res.status).toBe(404)
  expect((await res.json() as { error: { code: string } }).error.code).toBe('model_not_found')
})
