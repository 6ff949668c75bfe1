// OpenAI model cards as Anthropic ModelInfo objects: created_at from the card's epoch seconds, and a
// card whose `created` is not a time (a string, a number past the Date range) still answers, dated the epoch.
import { expect, test } from 'bun:test'
import type { ModelCard } from '../../src/control-plane/engine'
import { toAnthropicModel, toAnthropicModelPage } from '../../src/translate/anthropic-models'

const card = (created: unknown): ModelCard => ({ id: 'm', object: 'model', created: created as number, owned_by: 'vllm' })

test('created (epoch seconds) becomes created_at in RFC 3339', () => {
  expect(toAnthropicModel(card(1_700_000_000)).created_at).toBe('2023-11-14T22:13:20.000Z')
})

test.each([['a string', '1700000000'], ['past the Date range', 1e20], ['NaN', Number.NaN], ['absent', undefined]])('a created that is %s is dated the epoch, not a 500', (_, created) => {
  expect(toAnthropicModel(card(created)).created_at).toBe('1970-01-01T00:00:00.000Z')
  expect(toAnthropicModelPage([card(created)], { limit: 20 }).data).toHaveLength(1)
})
