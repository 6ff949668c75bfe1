// The body limits as pure logic: message count, string length and nesting depth, each a 400 naming
// where the body breaks it.
import { expect, test } from 'bun:test'
import { checkBodyLimits } from '../../src/api/body-limits'
import { ApiError } from '../../src/errors'

const limits = { maxMessages: 3, maxStringChars: 10, maxJsonDepth: 4 }

function failure(body: unknown): ApiError
function failure(within: typeof limits, body: unknown): ApiError
function failure(...args: [unknown] | [typeof limits, unknown]): ApiError {
  const [within, body] = args.length === 2 ? args : [limits, args[0]]
  try {
    checkBodyLimits(body, within)
  } catch (e) {
    if (e instanceof ApiError) return e
    throw e
  }
  throw new Error('expected a 400')
}

test('a body within every limit passes', () => {
  expect(() => checkBodyLimits({ model: 'm', messages: [{ role: 'user', content: 'ten chars!' }], a: { b: [1] } }, limits)).not.toThrow()
})

test('more messages than max_messages is 400 naming messages', () => {
  const error = failure({ messages: [{}, {}, {}, {}] })
  expect([error.httpStatus, error.errorCode, error.param]).toEqual([400, 'invalid_argument', 'messages'])
  expect(error.message).toContain('at most 3')
})

test('a long string is 400 naming its path', () => {
  const error = failure({ maxMessages: 3, maxStringChars: 10, maxJsonDepth: 64 }, { messages: [{ role: 'user', content: 'short' }, { role: 'user', content: [{ type: 'text', text: 'x'.repeat(11) }] }] })
  expect(error.param).toBe('messages[1].content[0].text')
  expect(error.message).toContain('11 characters')
})

test('a long top-level string value and a long key path are named from the top', () => {
  expect(failure({ model: 'x'.repeat(11) }).param).toBe('model')
})

test('nesting deeper than max_json_depth is 400 saying so, at the place it happens', () => {
  const error = failure({ a: { b: { c: { d: { e: 1 } } } } })
  expect(error.message).toContain('deeper than 4 levels')
  expect(error.param).toBe('a.b.c.d')
  expect(() => checkBodyLimits({ a: { b: { c: 1 } } }, limits)).not.toThrow()
})

test('a deep array of arrays is walked without recursion', () => {
  let deep: unknown = 1
  for (let i = 0; i < 100_000; i++) deep = [deep]
  expect(failure(deep).message).toContain('deeper than 4 levels')
})

test('a number too large for a float (1e999 parses to Infinity) is 400 naming its path, not sent on as null', () => {
  const top = failure(JSON.parse('{"model":"m","seed":1e999}'))
  expect([top.httpStatus, top.errorCode, top.param]).toEqual([400, 'invalid_argument', 'seed'])
  expect(top.message).toBe("Invalid value for 'seed': the number is too large to represent (it overflows a 64-bit float)")
  expect(failure(JSON.parse('{"tools":[{"parameters":{"maximum":-1e999}}]}')).param).toBe('tools[0].parameters.maximum')
  expect(() => checkBodyLimits(JSON.parse('{"seed":1e300,"top_p":0.5}'), limits)).not.toThrow()
})
