// parseImport on its own: the three accepted payload shapes, defaults for missing fields, timestamps
// normalised to ISO-8601 UTC, stored message fields, and every refusal naming the path that is wrong.
import { describe, expect, test } from 'bun:test'
import { ApiError } from '../../src/errors'
import { parseImport } from '../../src/sessions/session-import'

const NOW = '2025-06-01T12:00:00.000Z'
const session = (id: string, extra: Record<string, unknown> = {}) => ({ id, metadata: { title: `T ${id}` }, messages: [], ...extra })

/** The ApiError parseImport throws for `payload` (fails the test when it throws none). */
function refusal(payload: unknown): ApiError {
  try {
    parseImport(payload, NOW)
  } catch (e) {
    if (e instanceof ApiError) return e
    throw e
  }
  throw new Error('parseImport accepted the payload')
}

describe('accepted shapes', () => {
  test('the export wrapper {version, exported_at, sessions}', () => {
    const parsed = parseImport({ version: '1.0', exported_at: NOW, sessions: [session('a'), session('b')] }, NOW)
    expect(parsed.map((s) => s.session.id)).toEqual(['a', 'b'])
  })

  test('one session object', () => {
    expect(parseImport(session('solo'), NOW).map((s) => s.session.id)).toEqual(['solo'])
  })

  test('a bare list of sessions', () => {
    expect(parseImport([session('x'), session('y')], NOW).map((s) => s.session.id)).toEqual(['x', 'y'])
  })

  test('an empty list or an export with no sessions imports nothing', () => {
    expect(parseImport([], NOW)).toEqual([])
    expect(parseImport({ version: '1.0', sessions: [] }, NOW)).toEqual([])
  })
})

describe('defaults and normalisation', () => {
  test('a session without id gets a UUID, without title "New Chat" (still replaceable), without times now', () => {
    const [parsed] = parseImport([{}], NOW)
    expect(parsed!.session.id).toMatch(/^[0-9a-f-]{36}$/)
    expect(parsed!.session).toMatchObject({ title: 'New Chat', titleDefault: true, metadata: '{}', createdAt: NOW, lastActive: NOW })
    expect(parsed!.messages).toEqual([])
  })

  test('an explicit title is kept and marked as not the default; other metadata is stored without it', () => {
    const [parsed] = parseImport(session('t', { metadata: { title: 'Mine', project: 'p' } }), NOW)
    expect(parsed!.session).toMatchObject({ title: 'Mine', titleDefault: false })
    expect(JSON.parse(parsed!.session.metadata)).toEqual({ project: 'p' })
  })

  test('timestamps with offsets or without milliseconds become ISO-8601 UTC with milliseconds', () => {
    const [parsed] = parseImport(
      session('tz', { created_at: '2024-01-02T03:04:05+02:00', last_active: '2024-01-02T10:00:00Z', messages: [{ role: 'user', content: 'hi', timestamp: '2024-01-02T09:30:00.5-01:00' }] }),
      NOW,
    )
    expect(parsed!.session.createdAt).toBe('2024-01-02T01:04:05.000Z')
    expect(parsed!.session.lastActive).toBe('2024-01-02T10:00:00.000Z')
    expect(parsed!.messages[0]!.timestamp).toBe('2024-01-02T10:30:00.500Z')
  })

  test("Python isoformat() timestamps (microseconds, no offset) are accepted and kept to the millisecond", () => {
    const [parsed] = parseImport(session('py', { created_at: '2024-01-02T03:04:05.123456', last_active: '2024-01-02T03:04:06.999999+00:00' }), NOW)
    // Without an offset the time is read in the process's zone (TZ), so only its seconds are fixed here.
    expect(parsed!.session.createdAt).toMatch(/^2024-01-0[12]T\d\d:\d\d:05\.123Z$/)
    expect(parsed!.session.lastActive).toBe('2024-01-02T03:04:06.999Z')
  })

  test('a missing last_active is the created_at, and a missing message timestamp the last_active', () => {
    const [parsed] = parseImport(session('fb', { created_at: '2024-03-03T00:00:00.000Z', messages: [{ role: 'user', content: 'x' }] }), NOW)
    expect(parsed!.session.lastActive).toBe('2024-03-03T00:00:00.000Z')
    expect(parsed!.messages[0]!.timestamp).toBe('2024-03-03T00:00:00.000Z')
  })

  test('a message keeps its OpenAI fields, metadata and usage, apart from the envelope', () => {
    const call = { id: 'c1', type: 'function', function: { name: 'f', arguments: '{}' } }
    const [parsed] = parseImport(
      session('m', { messages: [{ role: 'assistant', content: null, tool_calls: [call], timestamp: NOW, metadata: { a: 1 }, usage: { prompt_tokens: 7, completion_tokens: 3 } }] }),
      NOW,
    )
    expect(parsed!.messages[0]).toEqual({
      role: 'assistant',
      content: 'null',
      extra: JSON.stringify({ tool_calls: [call] }),
      timestamp: NOW,
      metadata: '{"a":1}',
      prompt_tokens: 7,
      completion_tokens: 3,
    })
  })

  test('usage values that are not non-negative integers are dropped, not stored', () => {
    const [parsed] = parseImport(session('u', { messages: [{ role: 'assistant', content: 'x', usage: { prompt_tokens: -1, completion_tokens: 2.5 } }] }), NOW)
    expect(parsed!.messages[0]).toMatchObject({ prompt_tokens: null, completion_tokens: null })
  })

  test('content may be a list of parts or null', () => {
    const [parsed] = parseImport(session('c', { messages: [{ role: 'user', content: [{ type: 'text', text: 'a' }] }, { role: 'assistant' }] }), NOW)
    expect(parsed!.messages.map((m) => JSON.parse(m.content))).toEqual([[{ type: 'text', text: 'a' }], null])
  })
})

describe('refusals name the offending path', () => {
  const cases: [string, unknown, string | null][] = [
    ['a payload that is neither export, session nor list', { version: '1.0' }, null],
    ['a number payload', 7, null],
    ['sessions that is not a list', { sessions: {} }, 'sessions'],
    ['a session that is not an object', [session('a'), 'b'], 'sessions[1]'],
    ['an id that is not a string', [{ id: 5 }], 'sessions[0].id'],
    ['an empty id', [{ id: '' }], 'sessions[0].id'],
    ['an id longer than 256 characters', [{ id: 'i'.repeat(257) }], 'sessions[0].id'],
    ['metadata that is not an object', [session('a', { metadata: [] })], 'sessions[0].metadata'],
    ['an empty title', [session('a', { metadata: { title: '' } })], 'sessions[0].metadata.title'],
    ['a title that is not a string', [session('a', { metadata: { title: 3 } })], 'sessions[0].metadata.title'],
    ['an unreadable created_at', [session('a', { created_at: 'yesterday' })], 'sessions[0].created_at'],
    ['a numeric last_active', [session('a', { last_active: 1700000000 })], 'sessions[0].last_active'],
    ['messages that is not a list', [session('a', { messages: 'hi' })], 'sessions[0].messages'],
    ['a message that is not an object', [session('a'), session('b', { messages: [null] })], 'sessions[1].messages[0]'],
    ['a message without role', [session('a', { messages: [{ role: 'user', content: 'ok' }, { content: 'x' }] })], 'sessions[0].messages[1].role'],
    ['content that is a number', [session('a', { messages: [{ role: 'user', content: 1 }] })], 'sessions[0].messages[0].content'],
    ['content that is an object', [session('a', { messages: [{ role: 'user', content: { text: 'x' } }] })], 'sessions[0].messages[0].content'],
    ['message metadata that is not an object', [session('a', { messages: [{ role: 'user', content: 'x', metadata: 'm' }] })], 'sessions[0].messages[0].metadata'],
    ['an unreadable message timestamp', [session('a', { messages: [{ role: 'user', content: 'x', timestamp: 'noon' }] })], 'sessions[0].messages[0].timestamp'],
    ['the same id twice', [session('d'), session('e'), session('d')], 'sessions[2].id'],
  ]
  for (const [what, payload, param] of cases)
    test(`${what}: 400 with param ${param ?? 'null'}`, () => {
      const error = refusal(payload)
      expect({ status: error.httpStatus, type: error.type, code: error.errorCode, param: error.param }).toEqual({
        status: 400,
        type: 'invalid_request_error',
        code: 'invalid_argument',
        param,
      })
      if (param) expect(error.message).toStartWith(`${param}:`)
    })

  test('a single session given without an export wrapper is reported at sessions[0]', () => {
    expect(refusal({ id: 's', created_at: 'bad' }).param).toBe('sessions[0].created_at')
  })
})
