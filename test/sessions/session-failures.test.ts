// Turns that do not complete: a turn every engine fails (502), an engine's 400, a stream the engine
// cuts or never finishes store nothing and leave the session's history as it was for the next turn;
// a client that leaves mid-stream gets the partial reply stored, flagged truncated.
import { afterEach, expect, test } from 'bun:test'
import { APIError } from 'openai'
import { jsonResponse, sseResponse, type FakeEngine } from '../helpers/fake-engine'
import { Fleet } from '../helpers/fleet'
import { holdInference } from '../helpers/management-api'
import type { TestGateway } from '../helpers/gateway'
import { chatChunk, chatTurn, fetchSession, messagesOf, storedSession, streamTurn } from '../helpers/sessions'
import { waitFor } from '../helpers/wait'

const fleet = new Fleet()
afterEach(() => fleet.cleanup())

/** Fast retries, so a turn failing on every engine is answered at once. */
const QUICK_RETRIES = { retries: { max: 2, backoff_base_ms: 1, backoff_max_ms: 5 } }

/** A gateway over `n` engines and a session whose first turn ('A') is stored; resolves with its first reply. */
async function sessionWithOneTurn(n = 1, chunkDelayMs = 0): Promise<{ gw: TestGateway; engines: FakeEngine[]; id: string; reply1: string }> {
  const engines = await fleet.engines(n, { chunkDelayMs })
  const gw = await fleet.gateway(engines, QUICK_RETRIES)
  const id = `failing-${crypto.randomUUID()}`
  const reply1 = (await chatTurn(gw, id, 'A')).content!
  return { gw, engines, id, reply1 }
}

/** Every inference request any of the engines received, in no particular order across engines. */
const allInference = (engines: FakeEngine[]) => engines.flatMap((e) => e.inference())

/** The session still holds only turn A, and a next turn 'B' gets [A, reply 1, B] and is stored. */
async function expectHistoryIntact(gw: TestGateway, engines: FakeEngine[], id: string, reply1: string): Promise<void> {
  const history = [
    { role: 'user', content: 'A' },
    { role: 'assistant', content: reply1 },
  ]
  expect((await storedSession(gw, id)).messages.map(({ role, content }) => ({ role, content }))).toEqual(history)
  for (const e of engines) e.override = undefined
  const before = allInference(engines).length
  const reply2 = await chatTurn(gw, id, 'B')
  const sent = allInference(engines).slice(before)
  expect(sent).toHaveLength(1)
  expect(messagesOf(sent[0]!)).toEqual([...history, { role: 'user', content: 'B' }])
  expect((await storedSession(gw, id)).messages.map((m) => m.content)).toEqual(['A', reply1, 'B', reply2.content])
}

/** The error a promise rejects with (fails the test if it resolves). */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected the turn to fail')
    },
    (e: unknown) => e,
  )
}

test('a turn on a new session that every engine fails (HTTP 500) answers 502 and creates nothing', async () => {
  const engines = await fleet.engines(2)
  const gw = await fleet.gateway(engines, QUICK_RETRIES)
  for (const e of engines) e.override = (req) => (req.method === 'POST' ? jsonResponse({ error: { message: 'engine exploded' } }, 500) : undefined)
  const id = `failing-${crypto.randomUUID()}`
  const error = await rejection(chatTurn(gw, id, 'doomed'))
  expect(error).toBeInstanceOf(APIError)
  expect((error as APIError).status).toBe(502)
  for (const e of engines) expect(e.inference().length).toBeGreaterThanOrEqual(1)
  expect((await fetchSession(gw, id)).status).toBe(404)
})

test('a turn every engine fails (HTTP 500) stores nothing, and the next turn sees the history as it was', async () => {
  const { gw, engines, id, reply1 } = await sessionWithOneTurn(2)
  for (const e of engines) e.override = (req) => (req.method === 'POST' ? jsonResponse({ error: { message: 'engine exploded' } }, 500) : undefined)
  const error = await rejection(chatTurn(gw, id, 'doomed', { stream: true }))
  expect((error as APIError).status).toBe(502)
  await expectHistoryIntact(gw, engines, id, reply1)
})

test("an engine's 400 reaches the client, stores nothing, and the next turn sees the history as it was", async () => {
  const { gw, engines, id, reply1 } = await sessionWithOneTurn()
  engines[0]!.override = (req) =>
    req.method === 'POST' ? jsonResponse({ error: { message: 'prompt too long for this engine', type: 'invalid_request_error', param: 'messages', code: null } }, 400) : undefined
  const error = await rejection(chatTurn(gw, id, 'too long'))
  expect((error as APIError).status).toBe(400)
  expect((error as APIError).message).toContain('prompt too long for this engine')
  await expectHistoryIntact(gw, engines, id, reply1)
})

/** An engine stream that sends `events`, then breaks the connection once `die` resolves. */
function dyingStream(events: object[], die: Promise<void>): Response {
  const encoder = new TextEncoder()
  const body = new ReadableStream<Uint8Array>({
    async start(controller) {
      for (const e of events) controller.enqueue(encoder.encode(`data: ${JSON.stringify(e)}\n\n`))
      await die
      controller.error(new Error('engine died'))
    },
  })
  return new Response(body, { headers: { 'content-type': 'text/event-stream' } })
}

test('a stream the engine cuts mid-way ends in an error event for the client and stores nothing', async () => {
  const { gw, engines, id, reply1 } = await sessionWithOneTurn()
  let kill!: () => void
  const die = new Promise<void>((resolve) => (kill = resolve))
  engines[0]!.override = (req) => (req.method === 'POST' ? dyingStream([chatChunk({ role: 'assistant', content: '' }), chatChunk({ content: 'half an ans' })], die) : undefined)
  let received = ''
  const error = await rejection(
    (async () => {
      for await (const chunk of await streamTurn(gw, id, 'cut me off')) {
        received += chunk.choices[0]?.delta.content ?? ''
        // The engine dies only once the client has the first part of the answer.
        if (received) kill()
      }
    })(),
  )
  kill()
  expect(received).toBe('half an ans')
  expect(error).toBeInstanceOf(APIError)
  expect((error as APIError).message).toContain('failed mid-stream')
  await expectHistoryIntact(gw, engines, id, reply1)
})

test('a stream the engine closes without finishing (no finish_reason, no [DONE]) stores nothing', async () => {
  const { gw, engines, id, reply1 } = await sessionWithOneTurn()
  engines[0]!.override = (req) => (req.method === 'POST' ? sseResponse([chatChunk({ role: 'assistant', content: '' }), chatChunk({ content: 'never fini' })]) : undefined)
  const error = await rejection(chatTurn(gw, id, 'unfinished', { stream: true }))
  expect((error as APIError).message).toContain('without finishing')
  await expectHistoryIntact(gw, engines, id, reply1)
})

/**
 * Streams turn `text` on a new session from a slow engine and leaves (SDK stream abandoned) once some
 * content arrived; resolves with what the client received and the full reply the engine would give.
 */
async function leaveMidStream(text: string) {
  const engines = await fleet.engines(1, { chunkDelayMs: 25 })
  const gw = await fleet.gateway(engines)
  const full = (await gw.openai().chat.completions.create({ model: 'm', messages: [{ role: 'user', content: text }] })).choices[0]!.message.content!
  const id = `leaving-${crypto.randomUUID()}`
  const stream = await streamTurn(gw, id, text)
  let received = ''
  for await (const chunk of stream) {
    received += chunk.choices[0]?.delta.content ?? ''
    // Leaving the loop aborts the SDK's request: the gateway sees the client go away.
    if (received.length > 0) break
  }
  return { gw, engine: engines[0]!, id, received, full }
}

test('a client leaving mid-stream gets its partial reply stored, flagged truncated', async () => {
  const { gw, id, received, full } = await leaveMidStream('tell me a long story')
  await waitFor(async () => (await fetchSession(gw, id)).status === 200, 5000, 'the truncated turn to be stored')
  const [user, assistant] = (await storedSession(gw, id)).messages
  expect(user).toMatchObject({ role: 'user', content: 'tell me a long story' })
  expect(assistant!.role).toBe('assistant')
  expect(assistant!.metadata.truncated).toBe(true)
  const partial = assistant!.content as string
  // At least what the client saw, and less than the whole reply (the engine was stopped).
  expect(partial.startsWith(received)).toBe(true)
  expect(full.startsWith(partial)).toBe(true)
  expect(partial.length).toBeLessThan(full.length)
})

test('the engine request of a client that left mid-stream is cancelled', async () => {
  const { engine } = await leaveMidStream('tell me another story')
  const streamed = () => engine.inference().filter((r) => r.body?.stream === true)
  await waitFor(() => streamed()[0]?.aborted === true, 5000, 'the engine request to be aborted')
  expect(streamed()).toHaveLength(1)
})

test('after a truncated turn the next turn sends the partial reply as history', async () => {
  const { gw, engine, id } = await leaveMidStream('start a story')
  await waitFor(async () => (await fetchSession(gw, id)).status === 200, 5000, 'the truncated turn to be stored')
  const partial = (await storedSession(gw, id)).messages[1]!.content
  await chatTurn(gw, id, 'go on')
  expect(messagesOf(engine.inference().at(-1)!)).toEqual([
    { role: 'user', content: 'start a story' },
    { role: 'assistant', content: partial },
    { role: 'user', content: 'go on' },
  ])
})

test('a client leaving while the engine is silent releases the session at once, its partial reply stored', async () => {
  const engine = await fleet.engine()
  const gw = await fleet.gateway([engine])
  // The engine sends 'first ' and then nothing until the test ends.
  holdInference(engine)
  const id = `leaving-${crypto.randomUUID()}`
  for await (const chunk of await streamTurn(gw, id, 'hello')) if (chunk.choices[0]?.delta.content) break
  await waitFor(() => engine.inference()[0]!.aborted, 5000, 'the engine request to be aborted')
  engine.override = undefined
  const reply2 = (await chatTurn(gw, id, 'again')).content
  const stored = (await storedSession(gw, id)).messages
  expect(stored.map((m) => m.content)).toEqual(['hello', 'first ', 'again', reply2])
  expect(stored[1]!.metadata.truncated).toBe(true)
  expect(stored[3]!.metadata).not.toHaveProperty('truncated')
})
