// toEngineHistory: what stored messages go back to the engine. The history never opens with an
// assistant reply or a tool result (a cut at max_history_messages), reasoning is not re-sent, and a
// truncated reply goes back as its text only (an empty one not at all). Also titleFrom.
import { expect, test } from 'bun:test'
import type { MessageRow } from '../../src/sessions/session-repository'
import { titleFrom, toEngineHistory } from '../../src/sessions/session-shapes'

let seq = 0
function row(role: string, content: unknown, extra: Record<string, unknown> = {}, metadata: Record<string, unknown> = {}): MessageRow {
  return {
    session_id: 's',
    seq: ++seq,
    role,
    content: JSON.stringify(content),
    extra: JSON.stringify(extra),
    timestamp: '2026-11-23T00:00:00.000Z',
    metadata: JSON.stringify(metadata),
    prompt_tokens: null,
    completion_tokens: null,
  }
}

const call = { id: 'c1', type: 'function', function: { name: 'f', arguments: '{"a":1}' } }

test('a history cut inside a turn starts at its next user message', () => {
  expect(toEngineHistory([row('assistant', 'r1'), row('user', 'u2'), row('assistant', 'r2')])).toEqual([
    { role: 'user', content: 'u2' },
    { role: 'assistant', content: 'r2' },
  ])
})

test('a tool result whose call was cut off is not sent', () => {
  expect(toEngineHistory([row('tool', '{"t":1}', { tool_call_id: 'c1' }), row('user', 'next')])).toEqual([{ role: 'user', content: 'next' }])
})

test('a system message may open the history; nothing but assistant or tool messages means no history', () => {
  expect(toEngineHistory([row('system', 'be brief'), row('user', 'hi')]).map((m) => m.role)).toEqual(['system', 'user'])
  expect(toEngineHistory([row('assistant', 'r'), row('tool', 'x', { tool_call_id: 'c' })])).toEqual([])
})

test('tool calls and tool results of complete turns go back whole', () => {
  const history = toEngineHistory([row('user', 'go'), row('assistant', null, { tool_calls: [call] }), row('tool', 'ok', { tool_call_id: 'c1' })])
  expect(history).toEqual([
    { role: 'user', content: 'go' },
    { role: 'assistant', content: null, tool_calls: [call] },
    { role: 'tool', content: 'ok', tool_call_id: 'c1' },
  ])
})

test('reasoning is kept in the session but not sent back', () => {
  const history = toEngineHistory([row('user', 'q'), row('assistant', 'a', { reasoning_content: 'because', reasoning: 'because' })])
  expect(history[1]).toEqual({ role: 'assistant', content: 'a' })
})

test('a truncated reply goes back as its text, without its unfinished tool calls; an empty one is left out', () => {
  const cut = { truncated: true }
  expect(toEngineHistory([row('user', 'q'), row('assistant', 'half a', { tool_calls: [call] }, cut)])).toEqual([
    { role: 'user', content: 'q' },
    { role: 'assistant', content: 'half a' },
  ])
  expect(toEngineHistory([row('user', 'q'), row('assistant', '', {}, cut), row('user', 'again')])).toEqual([
    { role: 'user', content: 'q' },
    { role: 'user', content: 'again' },
  ])
  expect(toEngineHistory([row('user', 'q'), row('assistant', null, { tool_calls: [call] }, cut)])).toEqual([{ role: 'user', content: 'q' }])
})

test('titleFrom takes the first non-empty line of the first user message, at most 60 characters', () => {
  expect(titleFrom([{ role: 'system', content: 'sys' }, { role: 'user', content: '\n  Hello there \nmore' }])).toBe('Hello there')
  expect(titleFrom([{ role: 'user', content: 'x'.repeat(80) }])).toHaveLength(60)
  expect(titleFrom([{ role: 'user', content: [{ type: 'text', text: 'From parts' }] }])).toBe('From parts')
  expect(titleFrom([{ role: 'user', content: '   ' }])).toBeUndefined()
  expect(titleFrom([{ role: 'assistant', content: 'no user' }])).toBeUndefined()
})
