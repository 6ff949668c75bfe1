// What the OTEL_* settings change in the traces a loopback receiver gets: the service name, no
// exporter at all (the trace context still reaches the engines), the sampler, and whether prompts
// and completions are recorded; and that no secret of the gateway's ends up in a span.
import { afterEach, expect, test } from 'bun:test'
import { rmSync } from 'node:fs'
import { dirname } from 'node:path'
import { isChat } from '../helpers/anthropic'
import { writeYamlConfig } from '../helpers/fleet'
import { startOtlpReceiver } from '../helpers/otlp-receiver'
import { attemptSpansOf, CHAT, Cleanup, PARENT_ID, PROMPT, serverSpanOf, spanText, startTraced, TRACE_ID } from '../helpers/telemetry'

const cleanup = new Cleanup()
afterEach(() => cleanup.run())


test('OTEL_SERVICE_NAME names the service in the resource of every span', async () => {
  const { gw, flushed } = await startTraced(cleanup, { env: { OTEL_SERVICE_NAME: 'edge-gateway-7' } })
  const { response } = await gw.openai().chat.completions.create(CHAT).withResponse()
  const spans = await flushed(response.headers.get('x-request-id')!)
  expect(spans).toHaveLength(2)
  for (const span of spans) expect(span.resource['service.name']).toBe('edge-gateway-7')
})

test('without an OTLP endpoint nothing is exported, yet the engine gets the client trace id', async () => {
  const { gw, receiver, engines, flushed } = await startTraced(cleanup, { env: { OTEL_EXPORTER_OTLP_ENDPOINT: '', OTEL_SERVICE_NAME: 'quiet' } })
  expect(gw.config.telemetry.tracesEndpoint).toBeUndefined()
  await gw.openai().chat.completions.create(CHAT, { headers: { traceparent: `00-${TRACE_ID}-${PARENT_ID}-01` } })
  // A client without trace context: the engine gets none either (no trace is made up).
  await gw.openai().chat.completions.create(CHAT)
  await flushed()
  expect(engines[0]!.inference()[0]!.headers.traceparent).toMatch(new RegExp(`^00-${TRACE_ID}-[0-9a-f]{16}-01$`))
  expect(engines[0]!.inference()[1]!.headers).not.toHaveProperty('traceparent')
  expect(receiver.requests).toBe(0)
  expect(receiver.spans).toEqual([])
})

test('prompts and completions stay off spans by default', async () => {
  const { gw, flushed } = await startTraced(cleanup)
  const { response } = await gw.openai().chat.completions.create(CHAT).withResponse()
  const spans = await flushed(response.headers.get('x-request-id')!)
  expect(spans).toHaveLength(2)
  for (const span of spans) {
    expect(span.attributes['gen_ai.input.messages']).toBeUndefined()
    expect(span.attributes['gen_ai.output.messages']).toBeUndefined()
  }
})

test('OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true puts the prompt and the completion on the CLIENT span', async () => {
  const { gw, flushed } = await startTraced(cleanup, { env: { OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT: 'true' } })
  const { data, response } = await gw.openai().chat.completions.create(CHAT).withResponse()
  const requestId = response.headers.get('x-request-id')!
  const spans = await flushed(requestId)
  const [client] = attemptSpansOf(spans, serverSpanOf(spans, requestId))
  expect(client!.attributes['gen_ai.input.messages']).toContain(JSON.stringify(PROMPT))
  expect(client!.attributes['gen_ai.output.messages']).toContain(JSON.stringify(data.choices[0]!.message.content))
})

test('OTEL_TRACES_SAMPLER=always_off exports no span and requests still work, the engine told the trace is not sampled', async () => {
  const { gw, receiver, flushed, engines } = await startTraced(cleanup, { env: { OTEL_TRACES_SAMPLER: 'always_off' } })
  const { data, response } = await gw.openai().chat.completions.create(CHAT).withResponse()
  expect(data.choices[0]!.message.content).toContain(PROMPT)
  // A trace of the gateway's own, flagged not sampled (00), so the engine does not record it either.
  expect(engines[0]!.inference()[0]!.headers.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/)
  // The client's trace goes on, still not sampled.
  const second = await gw.openai().chat.completions.create(CHAT, { headers: { traceparent: `00-${TRACE_ID}-${PARENT_ID}-00` } }).withResponse()
  expect(engines[0]!.inference()[1]!.headers.traceparent).toMatch(new RegExp(`^00-${TRACE_ID}-[0-9a-f]{16}-00$`))
  expect(await flushed(response.headers.get('x-request-id')!, second.response.headers.get('x-request-id')!)).toEqual([])
  expect(receiver.requests).toBe(0)
})

test("neither an engine's api_key nor the admin key appears in any span", async () => {
  const ENGINE_KEY = 'sk-engine-secret'
  const ADMIN_KEY = 'admin-key-0123456789abcdef'
  const { gw, engines, flushed } = await startTraced(cleanup, {
    argv: ['--admin-key', ADMIN_KEY],
    engineArgs: ([engine]) => {
      const file = writeYamlConfig({ engines: [{ url: engine!.url, engine_id: 'e0', api_key: ENGINE_KEY }] })
      cleanup.defer(() => rmSync(dirname(file), { recursive: true, force: true }))
      return ['--config', file]
    },
  })
  const admin = { authorization: `Bearer ${ADMIN_KEY}` }
  const requestIds: string[] = []
  const chat = await gw.openai().chat.completions.create(CHAT, { headers: admin }).withResponse()
  requestIds.push(chat.response.headers.get('x-request-id')!)
  const patched = await gw.fetch('/v1/management/engines/e0', { method: 'PATCH', headers: { ...admin, 'content-type': 'application/json' }, body: '{"weight": 2}' })
  expect(patched.status).toBe(200)
  requestIds.push(patched.headers.get('x-request-id')!)
  // The secrets were in play: the engine got its key, the admin key opened the management call.
  expect(engines[0]!.requests.filter(isChat).map((r) => r.headers.authorization)).toEqual([`Bearer ${ENGINE_KEY}`])

  const spans = await flushed(...requestIds)
  expect(spans.length).toBeGreaterThanOrEqual(3)
  for (const span of spans) {
    expect(spanText(span)).not.toContain(ENGINE_KEY)
    expect(spanText(span)).not.toContain(ADMIN_KEY)
  }
})

test('an https collector with its own CA: OTEL_EXPORTER_OTLP_CERTIFICATE makes the gateway trust it', async () => {
  const fixtures = `${import.meta.dir}/../fixtures/tls`
  const https = await startOtlpReceiver({ tls: { cert: await Bun.file(`${fixtures}/loopback.crt`).text(), key: await Bun.file(`${fixtures}/loopback.key`).text() } })
  cleanup.defer(() => https.stop())
  const { gw, flushed } = await startTraced(cleanup, { env: { OTEL_EXPORTER_OTLP_ENDPOINT: https.url, OTEL_EXPORTER_OTLP_CERTIFICATE: `${fixtures}/loopback.crt` } })
  const { response } = await gw.openai().chat.completions.create(CHAT).withResponse()
  await flushed(response.headers.get('x-request-id')!)
  expect(https.spans).toHaveLength(2)
  expect(https.errors).toEqual([])
})
