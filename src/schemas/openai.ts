// TypeBox models of the OpenAI request bodies, limited to the fields the gateway itself reads and the
// sampling ranges of the sageLLM protocol. Every object allows additional properties: tools,
// response_format, top_k, chat_template_kwargs and every engine extra reach the engine untouched.
import { Type } from '@sinclair/typebox'
import { t, type Static } from 'elysia'
import { nullable } from './nullable'
import { SESSION_ID_PATTERN, SESSION_ID_RULE } from './session-id'

const open = { additionalProperties: true } as const

// Elysia's t.Integer also accepts integer strings and rewrites them to numbers; the OpenAI API
// rejects "max_tokens": "5", and so does the gateway: plain TypeBox integers.
const integer = Type.Integer

/** Sampling fields shared by chat and completions (sageLLM protocol ranges). */
const sampling = {
  model: t.String({ minLength: 1, maxLength: 256, description: 'Model id, as listed by GET /v1/models (at most 256 characters)' }),
  stream: nullable(t.Boolean()),
  stream_options: nullable(t.Object({ include_usage: nullable(t.Boolean()) }, open)),
  max_tokens: nullable(integer({ minimum: 1, description: 'Must be > 0' })),
  temperature: nullable(t.Number({ minimum: 0, maximum: 2, description: 'Within [0, 2]' })),
  top_p: nullable(t.Number({ exclusiveMinimum: 0, maximum: 1, description: 'Within (0, 1]' })),
  presence_penalty: nullable(t.Number({ minimum: -2, maximum: 2, description: 'Within [-2, 2]' })),
  frequency_penalty: nullable(t.Number({ minimum: -2, maximum: 2, description: 'Within [-2, 2]' })),
  n: nullable(integer({ minimum: 1, description: 'Must be >= 1' })),
  stop: nullable(t.Union([t.String(), t.Array(t.String())], { description: 'A string or a list of strings' })),
  // null is "not given" here too (Python clients send None): the gateway reads these only when they are strings.
  user: nullable(t.String()),
  session_id: nullable(t.String({ pattern: SESSION_ID_PATTERN, description: SESSION_ID_RULE })),
  trace_id: nullable(t.String({ pattern: SESSION_ID_PATTERN, description: `sageLLM extension: trace id, ${SESSION_ID_RULE}` })),
}

export const ChatMessage = t.Object(
  {
    role: t.String({ minLength: 1, description: 'system, developer, user, assistant, tool, …' }),
    content: t.Optional(
      t.Nullable(t.Union([t.String(), t.Array(t.Object({ type: t.String() }, open))], { description: 'A string or a list of content parts' })),
    ),
  },
  open,
)

export const ChatCompletionRequest = t.Object(
  {
    ...sampling,
    messages: t.Array(ChatMessage, { minItems: 1, description: 'At least one message' }),
    max_completion_tokens: nullable(integer({ minimum: 1, description: 'Must be > 0' })),
  },
  open,
)
export type ChatCompletionRequest = Static<typeof ChatCompletionRequest>

const tokenIds = t.Array(integer({ minimum: 0 }), { minItems: 1 })

export const CompletionRequest = t.Object(
  {
    ...sampling,
    prompt: t.Union([t.String(), t.Array(t.String(), { minItems: 1 }), tokenIds, t.Array(tokenIds, { minItems: 1 })], {
      description: 'A string, a list of strings, a list of token ids, or a list of such lists',
    }),
    echo: nullable(t.Boolean()),
  },
  open,
)
export type CompletionRequest = Static<typeof CompletionRequest>

export const EmbeddingRequest = t.Object(
  {
    model: sampling.model,
    input: t.Union([t.String(), t.Array(t.String(), { minItems: 1 }), tokenIds, t.Array(tokenIds, { minItems: 1 })], {
      description: 'A string, a list of strings, a list of token ids, or a list of such lists',
    }),
    encoding_format: t.Optional(t.Union([t.Literal('float'), t.Literal('base64')], { description: "'float' or 'base64'" })),
    dimensions: nullable(integer({ minimum: 1, description: 'Must be >= 1' })),
    user: sampling.user,
    session_id: sampling.session_id,
    trace_id: sampling.trace_id,
  },
  open,
)
export type EmbeddingRequest = Static<typeof EmbeddingRequest>

export const openAIModels = {
  'openai.chat.request': ChatCompletionRequest,
  'openai.completion.request': CompletionRequest,
  'openai.embedding.request': EmbeddingRequest,
} as const
