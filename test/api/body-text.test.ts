// The client's JSON text kept for the engine: only when asked (the OpenAI inference routes), handed
// over once, and the same text that was parsed.
import { expect, test } from 'bun:test'
import { parseJsonBody, takeJsonText } from '../../src/api/request-context'

const post = (text: string) => new Request('http://127.0.0.1/v1/chat/completions', { method: 'POST', headers: { 'content-type': 'application/json' }, body: text })

test('the text of a body parsed to be sent on is handed over once, as the client wrote it', async () => {
  const text = ' {"model": "m", "seed": 12345678901234567890} '
  const request = post(text)
  const body = (await parseJsonBody(request, 1 << 20, false, true)) as Record<string, unknown>
  expect(body.model).toBe('m')
  expect(takeJsonText(request)).toBe(text)
  expect(takeJsonText(request)).toBeUndefined()
})

test('a body parsed for a route that re-serialises keeps no text', async () => {
  const request = post('{"model": "m"}')
  await parseJsonBody(request, 1 << 20)
  expect(takeJsonText(request)).toBeUndefined()
})
