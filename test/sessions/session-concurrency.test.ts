// Concurrent turns: turns on one session run one after the other (each engine request carries every
// earlier turn's reply), none is lost and message_count is exact; turns on different sessions run at
// the same time; a queued turn whose client leaves does not hold up the turns behind it. With
// routing strategy affinity, every turn of one session goes to the same engine.
import { afterEach, expect, spyOn, test } from 'bun:test'
import type { FakeEngine } from '../helpers/fake-engine'
import { Fleet, fire, holdAt, servedBy, type Fired } from '../helpers/fleet'
import {
  asEngineMessages,
  chatTurn,
  lastUserText,
  messagesOf,
  sessionSummary,
  storedSession,
  type ClientReply,
  type Via,
} from '../helpers/sessions'
import { waitFor } from '../helpers/wait'

const fleet = new Fleet()
afterEach(() => fleet.cleanup())

const newSessionId = () => `concurrent-${crypto.randomUUID()}`

/** The value of a fired turn that must have succeeded. */
async function replyOf(turn: Fired<ClientReply>): Promise<ClientReply> {
  await waitFor(() => turn.done, 5000, 'the turn to finish')
  const result = await turn.result
  if (!result.ok) throw result.error
  return result.value
}

test('two concurrent turns on one session run one after the other; the second carries the first reply', async () => {
  const engine = await fleet.engine()
  const gw = await fleet.gateway([engine])
  const gate = fleet.gate()
  holdAt(engine, gate)
  const id = newSessionId()
  const turns = new Map(['T1', 'T2'].map((text) => [text, fire(chatTurn(gw, id, text))]))

  await waitFor(() => gate.held === 1, 5000, 'one turn at the engine')
  const first = lastUserText(engine.inference()[0]!)
  const second = first === 'T1' ? 'T2' : 'T1'
  gate.releaseOne()
  const firstReply = (await replyOf(turns.get(first)!)).content
  await waitFor(() => engine.inference().length === 2, 5000, 'the second turn at the engine')
  expect(messagesOf(engine.inference()[1]!)).toEqual([
    { role: 'user', content: first },
    { role: 'assistant', content: firstReply },
    { role: 'user', content: second },
  ])
  gate.open()
  const secondReply = (await replyOf(turns.get(second)!)).content
  expect((await storedSession(gw, id)).messages.map((m) => m.content)).toEqual([first, firstReply, second, secondReply])
  expect((await sessionSummary(gw, id)).message_count).toBe(4)
})

test('five concurrent turns on one session (streamed and not, slow engine) are all stored, each seeing every earlier turn', async () => {
  const engine = await fleet.engine({ chunkDelayMs: 5 })
  const gw = await fleet.gateway([engine])
  const id = newSessionId()
  const texts = ['c1', 'c2', 'c3', 'c4', 'c5']
  const replies = await Promise.all(texts.map((text, i) => chatTurn(gw, id, text, { stream: i % 2 === 0 })))

  const stored = (await storedSession(gw, id)).messages
  expect(stored).toHaveLength(10)
  expect((await sessionSummary(gw, id)).message_count).toBe(10)
  // Stored as user/assistant pairs, each user text once, each with the reply its client got.
  expect(stored.map((m) => m.role)).toEqual(Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? 'user' : 'assistant')))
  for (const [i, text] of texts.entries()) {
    const at = stored.findIndex((m) => m.content === text)
    expect(at % 2).toBe(0)
    expect(stored[at + 1]!.content).toBe(replies[i]!.content)
  }
  // Serialized: the k-th engine request carried exactly the k turns stored before it.
  const requests = engine.inference()
  expect(requests).toHaveLength(5)
  for (const [k, req] of requests.entries()) expect(messagesOf(req)).toEqual([...asEngineMessages(stored.slice(0, 2 * k)), asEngineMessages([stored[2 * k]!])[0]!])
})

test('turns on different sessions are at the engine at the same time', async () => {
  const engine = await fleet.engine()
  const gw = await fleet.gateway([engine])
  const gate = fleet.gate()
  holdAt(engine, gate)
  const ids = [newSessionId(), newSessionId()]
  const turns = ids.map((id) => fire(chatTurn(gw, id, `hello from ${id}`)))
  await waitFor(() => gate.held === 2, 5000, 'both sessions at the engine at once')
  gate.open()
  for (const [i, turn] of turns.entries()) {
    await replyOf(turn)
    expect((await sessionSummary(gw, ids[i]!)).message_count).toBe(2)
  }
})

test('a queued turn whose client leaves before its turn does not hold up the turns behind it', async () => {
  const engine = await fleet.engine()
  const gw = await fleet.gateway([engine])
  const gate = fleet.gate()
  holdAt(engine, gate)
  // Seen from the test: when a turn has joined the session's queue, and how its wait ended.
  const begun = spyOn(gw.sessions, 'beginTurn')
  const id = newSessionId()
  const t1 = fire(chatTurn(gw, id, 'T1'))
  await waitFor(() => gate.held === 1, 5000, 'T1 at the engine')
  const leaving = new AbortController()
  const t2 = fire(chatTurn(gw, id, 'T2', { signal: leaving.signal }))
  await waitFor(() => begun.mock.calls.length === 2, 5000, 'T2 queued')
  const t3 = fire(chatTurn(gw, id, 'T3'))
  await waitFor(() => begun.mock.calls.length === 3, 5000, 'T3 queued behind T2')

  leaving.abort()
  const t2Wait = fire(begun.mock.results[1]!.value as Promise<unknown>)
  await waitFor(() => t2Wait.done, 5000, "T2 to leave the queue once its client left")
  expect((await t2Wait.result).ok).toBe(false)
  expect((await t2.result).ok).toBe(false)

  gate.open()
  const reply1 = (await replyOf(t1)).content
  const reply3 = (await replyOf(t3)).content
  expect(engine.inference().map(lastUserText)).toEqual(['T1', 'T3'])
  expect(messagesOf(engine.inference()[1]!)).toEqual([
    { role: 'user', content: 'T1' },
    { role: 'assistant', content: reply1 },
    { role: 'user', content: 'T3' },
  ])
  expect((await storedSession(gw, id)).messages.map((m) => m.content)).toEqual(['T1', reply1, 'T3', reply3])
})

test.each(['session_id', 'x-session-id'] as Via[])('with routing affinity every turn of a session (named by %s) goes to one engine', async (via) => {
  const engines: FakeEngine[] = await fleet.engines(3)
  const gw = await fleet.gateway(engines, { routing: { strategy: 'affinity' } })
  // Fixed ids: where the affinity hash puts them is deterministic, and they land on several engines.
  const ids = Array.from({ length: 6 }, (_, i) => `affinity-${i}`)
  for (const id of ids) for (let k = 0; k < 4; k++) await chatTurn(gw, id, `${id}#${k}`, { via, stream: k % 2 === 1 })
  const homes = new Set<number>()
  for (const id of ids) {
    const servedByEngine = [0, 1, 2, 3].map((k) => servedBy(engines, `${id}#${k}`))
    expect(new Set(servedByEngine).size).toBe(1)
    homes.add(servedByEngine[0]!)
    // The engine the session lives on got its whole history each time.
    const last = engines[servedByEngine[0]!]!.inference().find((r) => lastUserText(r) === `${id}#3`)!
    expect(messagesOf(last)).toHaveLength(7)
    expect((await sessionSummary(gw, id)).message_count).toBe(8)
  }
  expect(homes.size).toBeGreaterThanOrEqual(2)
})

test('a turn waiting behind a running turn on its session gets 429 resource_exhausted once its deadline passes', async () => {
  const engine = await fleet.engine()
  const gw = await fleet.gateway([engine])
  const gate = fleet.gate()
  holdAt(engine, gate)
  const id = newSessionId()
  const first = fire(chatTurn(gw, id, 'slow one'))
  await waitFor(() => gate.held === 1, 5000, 'the first turn at the engine')
  const res = await gw.fetch('/v1/chat/completions', {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-session-id': id, 'x-sagellm-deadline-ms': '150' },
    body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'impatient' }] }),
  })
  expect(res.status).toBe(429)
  expect(res.headers.get('retry-after')).toBeTruthy()
  const body = (await res.json()) as { error: { code: string; param: string; message: string } }
  expect(body.error).toMatchObject({ code: 'resource_exhausted', param: 'session_id' })
  expect(body.error.message).toContain(id)
  gate.open()
  await replyOf(first)
  // The impatient turn stored nothing; the session holds only the first turn.
  expect((await sessionSummary(gw, id)).message_count).toBe(2)
  expect(engine.inference()).toHaveLength(1)
})
