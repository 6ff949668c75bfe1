import { expect, test } from 'bun:test'
import { toUpstreamBody } from '../../src/proxy/upstream-body'

test('gateway extension fields are removed and everything else is kept byte-exact', () => {
  const body = { model: 'm', session_id: 's', trace_id: 't', top_k: 5, tools: [{ type: 'function', function: { name: 'f' } }], x: { 'ü': null } }
  const out = JSON.parse(toUpstreamBody(body, false).text)
  expect(out).toEqual({ model: 'm', top_k: 5, tools: body.tools, x: { 'ü': null } })
})

test('streams always ask the engine for usage and remember whether the client did', () => {
  const asked = toUpstreamBody({ model: 'm', stream: true, stream_options: { include_usage: true, continuous_usage_stats: true } }, true)
  expect(asked.clientWantsUsage).toBe(true)
  expect(JSON.parse(asked.text).stream_options).toEqual({ include_usage: true, continuous_usage_stats: true })
  const notAsked = toUpstreamBody({ model: 'm', stream: true }, true)
  expect(notAsked.clientWantsUsage).toBe(false)
  expect(JSON.parse(notAsked.text).stream_options).toEqual({ include_usage: true })
})

test('non-stream bodies get no stream_options', () => {
  expect(JSON.parse(toUpstreamBody({ model: 'm' }, false).text).stream_options).toBeUndefined()
})

test('the client body is not mutated', () => {
  const body = { model: 'm', session_id: 's', stream: true }
  toUpstreamBody(body, true)
  expect(body).toEqual({ model: 'm', session_id: 's', stream: true })
})

test('a body without gateway fields or stream options is sent as it is, with the usage switch added to a stream', () => {
  const body = { model: 'm', stream: true, messages: [{ role: 'user', content: 'a "quoted" }' }], n: 1 }
  const stream = toUpstreamBody(body, true)
  expect(stream.clientWantsUsage).toBe(false)
  expect(JSON.parse(stream.text)).toEqual({ ...body, stream_options: { include_usage: true } })
  expect(toUpstreamBody(body, false).text).toBe(JSON.stringify(body))
  expect(body).not.toHaveProperty('stream_options')
  expect(JSON.parse(toUpstreamBody({}, true).text)).toEqual({ stream_options: { include_usage: true } })
})

test("the client's own text is sent when nothing changes, trimmed, with a stream's usage switch appended", () => {
  const body = { model: 'm', seed: 1 }
  expect(toUpstreamBody(body, false, ' {"model": "m", "seed": 1}\n').text).toBe('{"model": "m", "seed": 1}')
  expect(toUpstreamBody(body, true, '{"model": "m", "seed": 1}\n').text).toBe('{"model": "m", "seed": 1,"stream_options":{"include_usage":true}}')
  expect(toUpstreamBody({}, true, '{ \n }').text).toBe('{"stream_options":{"include_usage":true}}')
  // Anything to remove or add to the client's own stream_options: the body is written anew.
  const withSession = toUpstreamBody({ model: 'm', session_id: 's' }, false, '{"model":"m","session_id":"s"}')
  expect(JSON.parse(withSession.text)).toEqual({ model: 'm' })
  const withOptions = toUpstreamBody({ model: 'm', stream_options: { include_usage: false } }, true, '{"model":"m","stream_options":{"include_usage":false}}')
  expect(JSON.parse(withOptions.text).stream_options).toEqual({ include_usage: true })
})
