// Sessions at the edges of a turn: deleted while a turn runs (it stays deleted), a reply that could not
// be stored (the stream ends with an error event, not [DONE] alone), a client leaving after the finish
// (the reply is complete, not truncated), a page cursor taken before a clear (no message skipped).
import { afterEach, expect, spyOn, test } from 'bun:test'
import { sseResponse } from '../helpers/fake-engine'
import { Fleet, fire, holdAt } from '../helpers/fleet'
import { chatChunk, chatTurn, fetchSession, storedSession, streamTurn, usageChunk } from '../helpers/sessions'
import { SessionRepository } from '../../src/sessions/session-repository'
import { waitFor } from '../helpers/wait'

const fleet = new Fleet()
afterEach(() => fleet.cleanup())

const newId = () => `edge-${crypto.randomUUID()}`

test('a session deleted while a turn runs on it stays deleted when the turn ends', async () => {
  const engine = await fleet.engine()
  const gw = await fleet.gateway([engine])
  const id = newId()
  await chatTurn(gw, id, 'first')
  const gate = fleet.gate()
  holdAt(engine, gate)
  const turn = fire(chatTurn(gw, id, 'second'))
  await waitFor(() => gate.held === 1, 5000, 'the second turn at the engine')
  expect((await gw.fetch(`/sessions/${id}`, { method: 'DELETE' })).status).toBe(200)
  gate.open()
  expect((await turn.result).ok).toBe(true)
  expect((await fetchSession(gw, id)).status).toBe(404)
})

test('a turn starting marks its session active, so a sweep during the turn leaves it alone', async () => {
  const engine = await fleet.engine()
  const gw = await fleet.gateway([engine])
  const id = newId()
  await chatTurn(gw, id, 'first')
  const before = (await storedSession(gw, id)).last_active
  const gate = fleet.gate()
  holdAt(engine, gate)
  const turn = fire(chatTurn(gw, id, 'second'))
  await waitFor(() => gate.held === 1, 5000, 'the second turn at the engine')
  expect((await storedSession(gw, id)).last_active > before).toBe(true)
  gate.open()
  expect((await turn.result).ok).toBe(true)
  expect((await storedSession(gw, id)).messages).toHaveLength(4)
})

test('a streamed reply that could not be stored ends with an error event before [DONE]', async () => {
  const engine = await fleet.engine()
  const gw = await fleet.gateway([engine])
  const failing = spyOn(SessionRepository.prototype, 'appendTurn').mockImplementation(() => {
    throw new Error('disk full')
  })
  try {
    const res = await gw.fetch('/v1/chat/completions', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-session-id': newId() },
      body: JSON.stringify({ model: 'm', stream: true, messages: [{ role: 'user', content: 'hi' }] }),
    })
    const text = await res.text()
    expect(text).toMatch(/data: \{"error":\{"message":"[^"]*could not be stored[^"]*disk full[^"]*","type":"server_error","param":null,"code":"internal_error","retryable":true\}\}\n\ndata: \[DONE\]\n\n$/)
  } finally {
    failing.mockRestore()
  }
})

test('a client that leaves after the finish reason, before [DONE], has its reply stored whole', async () => {
  const engine = await fleet.engine()
  const gw = await fleet.gateway([engine])
  const id = newId()
  engine.override = (req) =>
    req.method === 'POST'
      ? sseResponse([chatChunk({ role: 'assistant', content: 'all ' }), chatChunk({ content: 'done' }), chatChunk({}, 'stop'), usageChunk({ prompt_tokens: 3, completion_tokens: 2 }), 'data: [DONE]\n\n'], { delayMs: 40 })
      : undefined
  for await (const chunk of await streamTurn(gw, id, 'go')) if (chunk.choices[0]?.finish_reason) break
  await waitFor(async () => (await fetchSession(gw, id)).status === 200, 5000, 'the turn to be stored')
  const reply = (await storedSession(gw, id)).messages[1]!
  expect(reply.content).toBe('all done')
  expect(reply.metadata).not.toHaveProperty('truncated')
})

test('a /messages cursor taken before a clear skips none of the messages added after it', async () => {
  const engine = await fleet.engine()
  const gw = await fleet.gateway([engine])
  const id = newId()
  await chatTurn(gw, id, 'one')
  await chatTurn(gw, id, 'two')
  const page = (await (await gw.fetch(`/sessions/${id}/messages?limit=3`)).json()) as { next_cursor: string }
  expect((await gw.fetch(`/sessions/${id}/clear`, { method: 'POST' })).status).toBe(200)
  await chatTurn(gw, id, 'three')
  const after = (await (await gw.fetch(`/sessions/${id}/messages?cursor=${page.next_cursor}`)).json()) as { messages: { content: unknown }[] }
  expect(after.messages.map((m) => m.content)[0]).toBe('three')
  expect(after.messages).toHaveLength(2)
})
