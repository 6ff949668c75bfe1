// Traces as a collector receives them: requests through the official SDKs to a gateway exporting
// OTLP/protobuf to a loopback receiver, checked span by span (SERVER span per request, CLIENT span per
// engine attempt with the GenAI attributes, W3C trace context continued to the engines).
import { afterEach, expect, test } from 'bun:test'
import { NotFoundError } from 'openai'
import { anthropicClient, isChat } from '../helpers/anthropic'
import { jsonResponse } from '../helpers/fake-engine'
import type { ReceivedSpan } from '../helpers/otlp-receiver'
import {
  attemptSpansOf,
  chatChunk,
  Cleanup,
  CLIENT,
  gatedSse,
  nowNs,
  SERVER,
  serverSpanOf,
  startTraced,
  usageChunk,
  CHAT,
  PARENT_ID,
  PROMPT,
  TRACE_ID,
} from '../helpers/telemetry'

const cleanup = new Cleanup()
afterEach(() => cleanup.run())


test('a chat completion is a SERVER span with the CLIENT span of its engine attempt under it', async () => {
  const { gw, engines, flushed } = await startTraced(cleanup)
  const { data, response } = await gw.openai().chat.completions.create(CHAT).withResponse()
  expect(data.choices[0]!.finish_reason).toBe('stop')
  const requestId = response.headers.get('x-request-id')!
  const spans = await flushed(requestId)

  expect(spans).toHaveLength(2)
  const server = serverSpanOf(spans, requestId)
  expect(server).toMatchObject({ name: 'POST /v1/chat/completions', kind: SERVER, parentSpanId: '' })
  expect(server.traceId).toMatch(/^[0-9a-f]{32}$/)
  expect(server.attributes).toMatchObject({ 'http.request.method': 'POST', 'http.route': '/v1/chat/completions', 'http.response.status_code': 200, 'sagellm.request_id': requestId })

  const [client, ...others] = attemptSpansOf(spans, server)
  expect(others).toEqual([])
  expect(client).toMatchObject({ name: 'chat m', kind: CLIENT, traceId: server.traceId, parentSpanId: server.spanId, status: { code: 0 } })
  expect(client!.attributes).toMatchObject({
    'gen_ai.operation.name': 'chat',
    'gen_ai.provider.name': 'openai',
    'gen_ai.request.model': 'm',
    'gen_ai.request.max_tokens': 200,
    'gen_ai.request.temperature': 0.5,
    'gen_ai.response.id': data.id,
    'gen_ai.response.finish_reasons': ['stop'],
    'gen_ai.usage.input_tokens': data.usage!.prompt_tokens,
    'gen_ai.usage.output_tokens': data.usage!.completion_tokens,
    'server.address': '127.0.0.1',
    'server.port': engines[0]!.port,
    'sagellm.engine_id': gw.registry.all[0]!.id,
    'sagellm.attempt': 1,
  })
  for (const span of spans) expect(span.resource['service.name']).toBe('sagellm-gateway')
})

test("a client's traceparent is continued by the SERVER span and handed to the engine as the CLIENT span's child", async () => {
  const { gw, engines, flushed } = await startTraced(cleanup)
  const { response } = await gw
    .openai()
    .chat.completions.create(CHAT, { headers: { traceparent: `00-${TRACE_ID}-${PARENT_ID}-01`, tracestate: 'vendor=opaque' } })
    .withResponse()
  const requestId = response.headers.get('x-request-id')!
  const spans = await flushed(requestId)
  const server = serverSpanOf(spans, requestId)
  expect(server.traceId).toBe(TRACE_ID)
  expect(server.parentSpanId).toBe(PARENT_ID)
  const [client] = attemptSpansOf(spans, server)
  expect(client!.traceId).toBe(TRACE_ID)
  const [sent] = engines[0]!.inference()
  expect(sent!.headers.traceparent).toBe(`00-${TRACE_ID}-${client!.spanId}-01`)
  expect(sent!.headers.tracestate).toBe('vendor=opaque')
})

test('a streamed attempt span ends with the stream, marks its first chunk and counts the usage chunk tokens', async () => {
  const { gw, engines, flushed } = await startTraced(cleanup)
  const stream = gatedSse(
    [chatChunk({ role: 'assistant', content: '' }), chatChunk({ content: 'Beams' })],
    [chatChunk({ content: ' sweep.' }), chatChunk({}, 'stop'), usageChunk(17, 3), 'data: [DONE]\n\n'],
  )
  engines[0]!.override = (req) => (isChat(req) ? stream.response : undefined)
  const { data, response } = await gw
    .openai()
    .chat.completions.create({ ...CHAT, stream: true, stream_options: { include_usage: true } })
    .withResponse()
  let releasedAt: bigint | undefined
  let usage: { prompt_tokens: number; completion_tokens: number } | undefined
  for await (const chunk of data) {
    if (releasedAt === undefined && chunk.choices[0]?.delta.content) {
      // The client holds the first words: only now may the engine finish.
      releasedAt = nowNs()
      stream.release()
    }
    usage = chunk.usage ?? usage
  }
  expect(usage).toMatchObject({ prompt_tokens: 17, completion_tokens: 3 })
  const requestId = response.headers.get('x-request-id')!
  const spans = await flushed(requestId)
  const server = serverSpanOf(spans, requestId)
  const [client] = attemptSpansOf(spans, server)

  // The engine sends its tail over ~20 ms after the release: well past the SDK's clock, which puts
  // each span on a millisecond wall clock (so spans ending together may be out of order by < 1 ms).
  expect(client!.endTimeUnixNano).toBeGreaterThanOrEqual(releasedAt!)
  expect(server.endTimeUnixNano).toBeGreaterThanOrEqual(releasedAt!)
  const firstChunk = client!.events.filter((e) => e.name === 'gen_ai.first_chunk')
  expect(firstChunk).toHaveLength(1)
  expect(firstChunk[0]!.timeUnixNano).toBeGreaterThanOrEqual(client!.startTimeUnixNano)
  expect(firstChunk[0]!.timeUnixNano).toBeLessThan(client!.endTimeUnixNano)
  expect(client!.attributes['sagellm.time_to_first_chunk_ms']).toBeGreaterThan(0)
  expect(client!.attributes).toMatchObject({
    'gen_ai.usage.input_tokens': 17,
    'gen_ai.usage.output_tokens': 3,
    'gen_ai.response.id': 'chatcmpl-scripted-stream',
    'gen_ai.response.finish_reasons': ['stop'],
  })
})

test('a client that goes away mid-stream leaves a CLIENT span with error.type client_closed_request', async () => {
  const { gw, engines, flushed } = await startTraced(cleanup)
  const stream = gatedSse([chatChunk({ role: 'assistant', content: 'Beams' })], [chatChunk({}, 'stop'), 'data: [DONE]\n\n'])
  engines[0]!.override = (req) => (isChat(req) ? stream.response : undefined)
  const client = new AbortController()
  const res = await gw.fetch('/v1/chat/completions', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ...CHAT, stream: true }),
    signal: client.signal,
  })
  await res.body!.getReader().read()
  client.abort()
  const requestId = res.headers.get('x-request-id')!
  const spans = await flushed(requestId)
  const [attempt] = attemptSpansOf(spans, serverSpanOf(spans, requestId))
  expect(attempt!.attributes['error.type']).toBe('client_closed_request')
  expect(attempt!.status.code).toBe(2)
})

test('a stream the engine sends in one piece still ends its SERVER span', async () => {
  const { gw, engines, receiver } = await startTraced(cleanup)
  const whole = [chatChunk({ role: 'assistant', content: 'Hi' }), chatChunk({}, 'stop'), usageChunk(5, 1)].map((c) => `data: ${JSON.stringify(c)}\n\n`).join('')
  engines[0]!.override = (req) => (isChat(req) ? new Response(`${whole}data: [DONE]\n\n`, { headers: { 'content-type': 'text/event-stream' } }) : undefined)
  const { data, response } = await gw.openai().chat.completions.create({ ...CHAT, stream: true }).withResponse()
  for await (const _ of data);
  const requestId = response.headers.get('x-request-id')!
  const isServer = (s: ReceivedSpan) => s.kind === SERVER && s.attributes['sagellm.request_id'] === requestId
  // Not the request line: it goes missing the same way. The exporter sends ended spans within ~1 s.
  const spans = await receiver.waitForSpans((all) => all.some(isServer), 3000)
  expect(spans.filter(isServer)).toHaveLength(1)
})

test('a 5xx retried on another engine gives two CLIENT spans under one SERVER span, the first an error', async () => {
  const { gw, engines, flushed } = await startTraced(cleanup, { engines: 2 })
  let failedOn: number | undefined
  for (const engine of engines) {
    engine.override = (req) => {
      if (!isChat(req) || failedOn !== undefined) return undefined
      failedOn = engine.port
      return jsonResponse({ error: { message: 'CUDA out of memory' } }, 500)
    }
  }
  const { response } = await gw.openai().chat.completions.create(CHAT).withResponse()
  const requestId = response.headers.get('x-request-id')!
  const spans = await flushed(requestId)
  const server = serverSpanOf(spans, requestId)
  expect(server.attributes['http.response.status_code']).toBe(200)
  const attempts = attemptSpansOf(spans, server)
  expect(attempts.map((s) => s.attributes['sagellm.attempt'])).toEqual([1, 2])
  const [failed, served] = attempts
  expect(failed!.status.code).toBe(2)
  expect(failed!.attributes['error.type']).toBe('500')
  expect(failed!.attributes['server.port']).toBe(failedOn!)
  expect(served!.status.code).toBe(0)
  expect(served!.attributes['error.type']).toBeUndefined()
  expect(served!.attributes['sagellm.engine_id']).not.toBe(failed!.attributes['sagellm.engine_id'])
})

test('an unknown model is a 404 SERVER span with error.type model_not_found and no CLIENT span', async () => {
  const { gw, flushed } = await startTraced(cleanup)
  const error = await gw.openai().chat.completions.create({ ...CHAT, model: 'no-such-model' }).then(() => undefined, (e: unknown) => e)
  expect(error).toBeInstanceOf(NotFoundError)
  const requestId = (error as NotFoundError).headers.get('x-request-id')!
  const spans = await flushed(requestId)
  const server = serverSpanOf(spans, requestId)
  expect(server.name).toBe('POST /v1/chat/completions')
  expect(server.attributes).toMatchObject({ 'http.route': '/v1/chat/completions', 'http.response.status_code': 404, 'error.type': 'model_not_found' })
  expect(spans.filter((s) => s.kind === CLIENT)).toEqual([])
})


test('a chat turn of a session (body session_id) names it as gen_ai.conversation.id on its spans', async () => {
  const { gw, flushed } = await startTraced(cleanup)
  const params = { ...CHAT, session_id: 'voyage-42' }
  const { response } = await gw.openai().chat.completions.create(params).withResponse()
  const requestId = response.headers.get('x-request-id')!
  const spans = await flushed(requestId)
  const server = serverSpanOf(spans, requestId)
  const [client] = attemptSpansOf(spans, server)
  expect(client!.attributes['gen_ai.conversation.id']).toBe('voyage-42')
  expect(server.attributes['gen_ai.conversation.id']).toBe('voyage-42')
})

test('a session named by the x-session-id header is gen_ai.conversation.id on the CLIENT span too', async () => {
  const { gw, flushed } = await startTraced(cleanup)
  const { response } = await gw.openai().chat.completions.create(CHAT, { headers: { 'x-session-id': 'voyage-43' } }).withResponse()
  const requestId = response.headers.get('x-request-id')!
  const spans = await flushed(requestId)
  const [client] = attemptSpansOf(spans, serverSpanOf(spans, requestId))
  expect(client!.attributes['gen_ai.conversation.id']).toBe('voyage-43')
})

test('an Anthropic Messages request is a SERVER span on /v1/messages with its chat CLIENT span', async () => {
  const { gw, flushed } = await startTraced(cleanup)
  const { data, response } = await anthropicClient(gw)
    .messages.create({ model: 'm', max_tokens: 200, messages: [{ role: 'user', content: PROMPT }] })
    .withResponse()
  expect(data.stop_reason).toBe('end_turn')
  const requestId = response.headers.get('x-request-id')!
  const spans = await flushed(requestId)
  const server = serverSpanOf(spans, requestId)
  expect(server.name).toBe('POST /v1/messages')
  expect(server.attributes).toMatchObject({ 'http.route': '/v1/messages', 'http.response.status_code': 200 })
  const [client, ...others] = attemptSpansOf(spans, server)
  expect(others).toEqual([])
  expect(client!.name).toBe('chat m')
  expect(client!.attributes).toMatchObject({
    'gen_ai.operation.name': 'chat',
    'gen_ai.request.model': 'm',
    'gen_ai.request.max_tokens': 200,
    'gen_ai.usage.input_tokens': data.usage.input_tokens,
    'gen_ai.usage.output_tokens': data.usage.output_tokens,
  })
})
