// Failover on /v1/messages: with two engines serving the model and one answering every chat with a
// 500, Anthropic SDK calls (whole and streamed) succeed through the other, the failing engine having
// been tried before the first byte reached the client.
import { afterEach, expect, test } from 'bun:test'
import { anthropicClient, answerChats, chatRequests } from '../../helpers/anthropic'
import { jsonResponse, type FakeEngine } from '../../helpers/fake-engine'
import { Fleet } from '../../helpers/fleet'
import type { TestGateway } from '../../helpers/gateway'

const fleet = new Fleet()
afterEach(() => fleet.cleanup())

const ask = (content: string) => ({ model: 'm', max_tokens: 32, messages: [{ role: 'user' as const, content }] })

/** Engines e0 (answers every chat with 500) and e1 (healthy), taken in turn; breaker out of the way. */
async function halfBrokenFleet(): Promise<{ broken: FakeEngine; healthy: FakeEngine; gw: TestGateway }> {
  const [broken, healthy] = await fleet.engines(2)
  answerChats(broken!, () => jsonResponse({ error: { message: 'CUDA out of memory' } }, 500))
  const gw = await fleet.gateway([broken!, healthy!], { routing: { strategy: 'round_robin' }, circuit_breaker: { failure_threshold: 100 } })
  return { broken: broken!, healthy: healthy!, gw }
}

test('every non-stream call succeeds through the healthy engine while the other answers 500', async () => {
  const { broken, healthy, gw } = await halfBrokenFleet()
  const client = anthropicClient(gw)
  for (let i = 0; i < 4; i++) {
    const msg = await client.messages.create(ask(`question ${i}`))
    expect(msg.stop_reason).toBe('end_turn')
    expect(msg.content[0]!.type).toBe('text')
  }
  // Round robin sends some of the four to the broken engine first; each is retried on the healthy one.
  expect(chatRequests(broken).length).toBeGreaterThan(0)
  expect(chatRequests(healthy)).toHaveLength(4)
})

test('every streamed call succeeds through the healthy engine while the other answers 500', async () => {
  const { broken, healthy, gw } = await halfBrokenFleet()
  const client = anthropicClient(gw)
  for (let i = 0; i < 4; i++) {
    const final = await client.messages.stream(ask(`question ${i}`)).finalMessage()
    expect(final.stop_reason).toBe('end_turn')
    expect(final.usage.output_tokens).toBeGreaterThan(0)
  }
  expect(chatRequests(broken).length).toBeGreaterThan(0)
  expect(chatRequests(healthy)).toHaveLength(4)
})

test('the engine that fails receives the same translated body the healthy one answers', async () => {
  const { broken, healthy, gw } = await halfBrokenFleet()
  const client = anthropicClient(gw)
  for (let i = 0; i < 2; i++) await client.messages.create({ ...ask(`q${i}`), system: 'Be brief.' })
  const failed = chatRequests(broken)[0]!
  const answered = chatRequests(healthy).find((r) => r.text === failed.text)
  expect(answered).toBeDefined()
  expect(failed.body.messages[0]).toEqual({ role: 'system', content: 'Be brief.' })
})
