// Engines failing after a stream has begun: an engine dying mid-generation (its server stopped), a stream closed without a finish,
// an event that is not JSON and an engine's own error event each end the client's stream with one
// Anthropic `error` event (never message_stop), which the SDK's MessageStream raises after the text
// it already delivered. Each test has its own engine: a broken connection takes its engine out of
// rotation for a while.
import { APIError } from '@anthropic-ai/sdk'
import { afterEach, expect, test } from 'bun:test'
import { anthropicClient, anthropicEventsOf, answerChats, heldStream, type HeldStream } from '../../helpers/anthropic'
import { sseResponse, startFakeEngine, type FakeEngine } from '../../helpers/fake-engine'
import { postJson, startGateway, type TestGateway } from '../../helpers/gateway'
import { chatChunk, DONE_EVENT } from '../../helpers/sessions'
import { waitFor } from '../../helpers/wait'

const stops: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop()
})

async function setup(): Promise<{ engine: FakeEngine; gw: TestGateway }> {
  const engine = await startFakeEngine({ models: ['m'] })
  stops.push(() => engine.stop())
  const gw = await startGateway(['--engine', engine.url])
  stops.push(() => gw.stop())
  return { engine, gw }
}

/** An engine answer that has sent its first two text pieces and is still open. */
function openAnswer(engine: FakeEngine): HeldStream {
  const held = heldStream()
  stops.push(() => held.close())
  answerChats(engine, () => held.response)
  held.send(chatChunk({ role: 'assistant', content: '' }))
  held.send(chatChunk({ content: 'Hel' }))
  held.send(chatChunk({ content: 'lo' }))
  return held
}

const ask = { model: 'm', max_tokens: 64, messages: [{ role: 'user' as const, content: 'Hello' }] }

test('an engine dying mid-stream makes the SDK stream emit error after the text it already delivered', async () => {
  const { engine, gw } = await setup()
  openAnswer(engine)
  const stream = anthropicClient(gw).messages.stream(ask)
  const texts: string[] = []
  const errors: unknown[] = []
  stream.on('text', (delta) => texts.push(delta))
  stream.on('error', (e) => errors.push(e))
  const outcome = stream.finalMessage().then(
    () => undefined,
    (e: unknown) => e,
  )
  await waitFor(() => texts.length === 2, 5000, 'the first two text events')
  await engine.stop()

  const error = await outcome
  expect(texts).toEqual(['Hel', 'lo'])
  expect(error).toBeInstanceOf(APIError)
  expect(errors).toEqual([error])
  expect((error as APIError).type).toBe('api_error')
  expect((error as APIError).apiMessage).toContain('mid-stream')
})

test('on the wire an engine dying mid-stream is one error event after the deltas, and no message_stop', async () => {
  const { engine, gw } = await setup()
  openAnswer(engine)
  const res = await postJson(gw, '/v1/messages', { ...ask, stream: true })
  const reader = res.body!.getReader()
  const decoder = new TextDecoder()
  let text = ''
  while (!text.includes('"text":"lo"')) {
    const { value, done } = await reader.read()
    if (done) throw new Error(`the stream ended before the second delta: ${text}`)
    text += decoder.decode(value, { stream: true })
  }
  await engine.stop()
  for (let r = await reader.read(); !r.done; r = await reader.read()) text += decoder.decode(r.value, { stream: true })

  const events = anthropicEventsOf(text)
  expect(events.map((e) => e.event)).toEqual(['message_start', 'ping', 'content_block_start', 'content_block_delta', 'content_block_delta', 'error'])
  expect(events.at(-1)!.data).toEqual({ type: 'error', error: { type: 'api_error', message: expect.stringContaining('failed mid-stream') } })
})

test('an engine stream closed without a finish or [DONE] ends with an error event', async () => {
  const { engine, gw } = await setup()
  answerChats(engine, () => sseResponse([chatChunk({ role: 'assistant', content: 'Half an ans' })]))
  const events = anthropicEventsOf(await (await postJson(gw, '/v1/messages', { ...ask, stream: true })).text())
  expect(events.map((e) => e.event)).toEqual(['message_start', 'ping', 'content_block_start', 'content_block_delta', 'error'])
  expect(events.at(-1)!.data.error.message).toContain('without finishing')
})

test('an engine event that is not JSON ends the stream with an error event quoting it', async () => {
  const { engine, gw } = await setup()
  answerChats(engine, () => sseResponse([chatChunk({ role: 'assistant', content: 'Hi' }), 'data: {"choices": [oops\n\n', chatChunk({}, 'stop'), DONE_EVENT]))
  const events = anthropicEventsOf(await (await postJson(gw, '/v1/messages', { ...ask, stream: true })).text())
  const errors = events.filter((e) => e.event === 'error')
  expect(errors).toHaveLength(1)
  expect(errors[0]!.data.error.message).toContain('not JSON')
  expect(errors[0]!.data.error.message).toContain('[oops')
  expect(events.at(-1)!.event).toBe('error')
})

test("an engine's own error event mid-stream reaches the SDK stream as an api_error with the engine's message", async () => {
  const { engine, gw } = await setup()
  answerChats(engine, () =>
    sseResponse([chatChunk({ role: 'assistant', content: 'Hi' }), { error: { object: 'error', message: 'CUDA error: device-side assert triggered', code: 500 } }, DONE_EVENT]),
  )
  const stream = anthropicClient(gw).messages.stream(ask)
  const texts: string[] = []
  stream.on('text', (delta) => texts.push(delta))
  const error = await stream.finalMessage().then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(texts).toEqual(['Hi'])
  expect(error).toBeInstanceOf(APIError)
  expect((error as APIError).type).toBe('api_error')
  expect((error as APIError).apiMessage).toContain('CUDA error: device-side assert triggered')
})
