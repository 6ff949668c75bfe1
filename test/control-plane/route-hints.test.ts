// routeHintsOf: the affinity key's precedence, priority and deadline headers (values, names, errors),
// and the prompt text the locality strategy keys on.
import { describe, expect, test } from 'bun:test'
import { PRIORITY } from '../../src/control-plane/admission-queue'
import { promptText, routeHintsOf } from '../../src/control-plane/route-hints'
import { ApiError } from '../../src/errors'

const headers = (h: Record<string, string> = {}) => new Headers(h)

function errorOf(fn: () => unknown): ApiError {
  try {
    fn()
  } catch (e) {
    expect(e).toBeInstanceOf(ApiError)
    return e as ApiError
  }
  throw new Error('expected an ApiError')
}

describe('affinity key', () => {
  test('session_id beats the x-session-affinity header, which beats user', () => {
    const h = headers({ 'x-session-affinity': 'hdr' })
    expect(routeHintsOf({ session_id: 's', user: 'u' }, h).affinityKey).toBe('s')
    expect(routeHintsOf({ user: 'u' }, h).affinityKey).toBe('hdr')
    expect(routeHintsOf({ user: 'u' }, headers()).affinityKey).toBe('u')
  })

  test('no session, header or user means no key; empty values do not count', () => {
    expect(routeHintsOf({}, headers()).affinityKey).toBeUndefined()
    expect(routeHintsOf({ session_id: '', user: '' }, headers({ 'x-session-affinity': '' })).affinityKey).toBeUndefined()
  })
})

describe('priority', () => {
  test('defaults to NORMAL', () => {
    expect(routeHintsOf({}, headers()).priority).toBe(PRIORITY.NORMAL)
  })

  test('accepts 0-4 and the names, case-insensitively', () => {
    expect(routeHintsOf({}, headers({ 'x-sagellm-priority': '0' })).priority).toBe(0)
    expect(routeHintsOf({}, headers({ 'x-sagellm-priority': ' 4 ' })).priority).toBe(4)
    expect(routeHintsOf({}, headers({ 'x-sagellm-priority': 'critical' })).priority).toBe(PRIORITY.CRITICAL)
    expect(routeHintsOf({}, headers({ 'x-sagellm-priority': 'BACKGROUND' })).priority).toBe(PRIORITY.BACKGROUND)
  })

  test('anything else is a 400 naming the header', () => {
    for (const bad of ['5', '-1', '1.5', 'urgent']) {
      const error = errorOf(() => routeHintsOf({}, headers({ 'x-sagellm-priority': bad })))
      expect(error.httpStatus).toBe(400)
      expect(error.param).toBe('x-sagellm-priority')
      expect(error.message).toContain(`'${bad}'`)
    }
  })
})

describe('deadline', () => {
  test('a budget in ms is counted from now; an epoch time in ms is taken as is', () => {
    expect(routeHintsOf({}, headers({ 'x-sagellm-deadline-ms': '1500' }), 10_000).deadlineAt).toBe(11_500)
    expect(routeHintsOf({}, headers({ 'x-sagellm-deadline-ms': '1790000000000' }), 10_000).deadlineAt).toBe(1_790_000_000_000)
    expect(routeHintsOf({}, headers()).deadlineAt).toBeUndefined()
  })

  test('zero, negative, fractional or non-numeric deadlines are a 400 naming the header', () => {
    for (const bad of ['0', '-5', '2.5', 'soon']) {
      const error = errorOf(() => routeHintsOf({}, headers({ 'x-sagellm-deadline-ms': bad })))
      expect(error.httpStatus).toBe(400)
      expect(error.param).toBe('x-sagellm-deadline-ms')
    }
  })
})

describe('prompt prefix', () => {
  test('chat messages in order, with roles, text parts included', () => {
    const body = {
      messages: [
        { role: 'system', content: 'You are terse.' },
        { role: 'user', content: [{ type: 'text', text: 'Hi' }, { type: 'image_url', image_url: { url: 'x' } }] },
      ],
    }
    expect(promptText(body)).toBe('<system>You are terse.<user>Hi')
  })

  test('completions prompts and embedding inputs, strings or lists', () => {
    expect(promptText({ prompt: 'Once upon' })).toBe('Once upon')
    expect(promptText({ prompt: ['a', 'b'] })).toBe('ab')
    expect(promptText({ input: [1, 2, 3] })).toBe('123')
  })

  test('stops at the limit', () => {
    expect(promptText({ prompt: 'x'.repeat(100) }, 10)).toHaveLength(10)
  })

  test('is computed once, and only when asked for', () => {
    let reads = 0
    const body = {
      get messages() {
        reads++
        return [{ role: 'user', content: 'hello' }]
      },
    }
    const hints = routeHintsOf(body, headers())
    expect(reads).toBe(0)
    expect(hints.prefix(512)).toBe('<user>hello')
    expect(hints.prefix(512)).toBe('<user>hello')
    expect(reads).toBe(1)
  })
})
