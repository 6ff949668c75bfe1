// sessions.max_history_messages (config file): the engine gets only the last N stored messages before
// a turn's own, 0 sends none, while every message stays stored.
import { afterEach, expect, test } from 'bun:test'
import { Fleet } from '../helpers/fleet'
import { chatTurn, messagesOf, sessionSummary, storedSession } from '../helpers/sessions'

const fleet = new Fleet()
afterEach(() => fleet.cleanup())

/** A gateway with max_history_messages = `limit` and a session with three stored turns; returns their replies. */
async function threeTurns(limit: number) {
  const [engine] = await fleet.engines(1)
  const gw = await fleet.gateway([engine!], { sessions: { max_history_messages: limit } })
  const id = `limited-${crypto.randomUUID()}`
  const replies: string[] = []
  for (const text of ['one', 'two', 'three']) replies.push((await chatTurn(gw, id, text)).content!)
  return { gw, engine: engine!, id, replies }
}

test('max_history_messages 3 never cuts inside an exchange: it reaches back to the user message that opened it', async () => {
  const { gw, engine, id, replies } = await threeTurns(3)
  await chatTurn(gw, id, 'four')
  // The last 3 are [reply 2, three, reply 3]: reply 2 belongs to turn 2, so turn 2's user message comes too.
  expect(messagesOf(engine.inference().at(-1)!)).toEqual([
    { role: 'user', content: 'two' },
    { role: 'assistant', content: replies[1] },
    { role: 'user', content: 'three' },
    { role: 'assistant', content: replies[2] },
    { role: 'user', content: 'four' },
  ])
})

test('max_history_messages 4 sends the last 4 stored messages when they start with a user turn', async () => {
  const { gw, engine, id, replies } = await threeTurns(4)
  await chatTurn(gw, id, 'four')
  expect(messagesOf(engine.inference().at(-1)!)).toEqual([
    { role: 'user', content: 'two' },
    { role: 'assistant', content: replies[1] },
    { role: 'user', content: 'three' },
    { role: 'assistant', content: replies[2] },
    { role: 'user', content: 'four' },
  ])
})

test('max_history_messages 3 still stores every message of every turn', async () => {
  const { gw, id, replies } = await threeTurns(3)
  const reply4 = (await chatTurn(gw, id, 'four', { stream: true })).content
  const stored = (await storedSession(gw, id)).messages.map((m) => m.content)
  expect(stored).toEqual(['one', replies[0], 'two', replies[1], 'three', replies[2], 'four', reply4])
  expect((await sessionSummary(gw, id)).message_count).toBe(8)
})

test('max_history_messages 3: while fewer are stored, the engine gets all of them', async () => {
  const [engine] = await fleet.engines(1)
  const gw = await fleet.gateway([engine!], { sessions: { max_history_messages: 3 } })
  const id = `limited-${crypto.randomUUID()}`
  const reply1 = (await chatTurn(gw, id, 'one')).content
  await chatTurn(gw, id, 'two')
  expect(messagesOf(engine!.inference().at(-1)!)).toEqual([
    { role: 'user', content: 'one' },
    { role: 'assistant', content: reply1 },
    { role: 'user', content: 'two' },
  ])
})

test('max_history_messages 0 sends no history, and every turn is still stored', async () => {
  const { gw, engine, id } = await threeTurns(0)
  for (const req of engine.inference()) expect(messagesOf(req)).toHaveLength(1)
  await chatTurn(gw, id, 'four', { stream: true })
  expect(messagesOf(engine.inference().at(-1)!)).toEqual([{ role: 'user', content: 'four' }])
  expect((await sessionSummary(gw, id)).message_count).toBe(8)
})
