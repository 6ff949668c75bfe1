// OpenAI model cards → Anthropic's Models API: ModelInfo objects and the cursor pages
// (`has_more`, `first_id`, `last_id`; `after_id`, `before_id`, `limit`) its SDKs page through. Pure.
import type { ModelCard } from '../control-plane/engine'
import { invalidRequest } from '../errors'

export interface AnthropicModelInfo {
  type: 'model'
  id: string
  display_name: string
  created_at: string
  max_input_tokens: number | null
  max_tokens: number | null
  capabilities: null
  lifecycle: 'active'
  line: null
  deprecated_at: null
  retires_at: null
}

export interface AnthropicModelPage {
  data: AnthropicModelInfo[]
  has_more: boolean
  first_id: string | null
  last_id: string | null
}

export interface ModelPageQuery {
  readonly limit: number
  readonly afterId?: string
  readonly beforeId?: string
}

export function toAnthropicModel(card: ModelCard): AnthropicModelInfo {
  return {
    type: 'model',
    id: card.id,
    // Engines name a model by its id alone.
    display_name: card.id,
    created_at: createdAt(card.created),
    // vLLM's card carries the context window; nothing in an OpenAI card says the output limit,
    // capabilities or lifecycle dates, which Anthropic's types allow to be null.
    max_input_tokens: typeof card.max_model_len === 'number' ? card.max_model_len : null,
    max_tokens: null,
    capabilities: null,
    lifecycle: 'active',
    line: null,
    deprecated_at: null,
    retires_at: null,
  }
}

/** One page of `cards` (in the order given): the `limit` after `afterId`, or the `limit` just before `beforeId`. */
export function toAnthropicModelPage(cards: readonly ModelCard[], query: ModelPageQuery): AnthropicModelPage {
  const from = query.afterId === undefined ? 0 : indexOf(cards, query.afterId, 'after_id') + 1
  const to = query.beforeId === undefined ? cards.length : indexOf(cards, query.beforeId, 'before_id')
  // Paging backwards (before_id) takes the end of the range, and has_more means more before it.
  const backwards = query.beforeId !== undefined
  const start = backwards ? Math.max(from, to - query.limit) : from
  const end = backwards ? to : Math.min(to, from + query.limit)
  const data = cards.slice(start, Math.max(start, end)).map(toAnthropicModel)
  return {
    data,
    has_more: backwards ? start > from : end < to,
    first_id: data[0]?.id ?? null,
    last_id: data.at(-1)?.id ?? null,
  }
}

function indexOf(cards: readonly ModelCard[], id: string, param: string): number {
  const i = cards.findIndex((card) => card.id === id)
  if (i < 0) throw invalidRequest(`Invalid value for '${param}': no model '${id}' on this gateway`, param)
  return i
}

/** An engine's `created` (epoch seconds) in RFC 3339; one that is not a time an engine could mean, the epoch. */
function createdAt(created: unknown): string {
  const date = new Date(typeof created === 'number' ? created * 1000 : Number.NaN)
  return Number.isNaN(date.getTime()) ? new Date(0).toISOString() : date.toISOString()
}
