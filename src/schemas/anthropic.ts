// TypeBox models of the Anthropic Messages API bodies the gateway accepts. Content blocks are checked
// block by block by the translation (translate/anthropic-request.ts), which names the offending block.
import { Type } from '@sinclair/typebox'
import { t, type Static } from 'elysia'
import { nullable } from './nullable'
import { SESSION_ID_PATTERN, SESSION_ID_RULE } from './session-id'

const open = { additionalProperties: true } as const
const block = t.Object({ type: t.String({ minLength: 1 }) }, { ...open, description: 'A content block: text, image, tool_use, tool_result, thinking' })
const content = t.Union([t.String(), t.Array(block)], { description: 'A string or a list of content blocks' })

const fields = {
  model: t.String({ minLength: 1, maxLength: 256, description: 'Model id, as listed by GET /v1/models (at most 256 characters)' }),
  messages: t.Array(
    t.Object({ role: t.Union([t.Literal('user'), t.Literal('assistant')], { description: 'user or assistant' }), content }, open),
    { minItems: 1, description: 'At least one message' },
  ),
  system: t.Optional(t.Union([t.String(), t.Array(block)], { description: 'A string or a list of text blocks' })),
  tools: t.Optional(
    t.Array(
      t.Object(
        { name: t.String({ minLength: 1 }), description: t.Optional(t.String()), input_schema: t.Optional(t.Object({}, open)), type: t.Optional(t.String()) },
        open,
      ),
    ),
  ),
  tool_choice: t.Optional(
    t.Object({ type: t.String({ description: 'auto, any, tool or none' }), name: t.Optional(t.String()), disable_parallel_tool_use: t.Optional(t.Boolean()) }, open),
  ),
  thinking: t.Optional(
    t.Object(
      {
        type: t.String({ description: 'enabled, adaptive, between_tools or disabled' }),
        budget_tokens: t.Optional(Type.Integer({ minimum: 0 })),
        display: nullable(t.String({ description: 'summarized or omitted' })),
      },
      open,
    ),
  ),
  output_config: t.Optional(
    t.Object(
      {
        effort: nullable(t.String({ description: 'low, medium, high, xhigh or max' })),
        format: nullable(
          t.Object(
            { type: t.Literal('json_schema', { description: 'json_schema, the one format' }), schema: t.Object({}, { ...open, minProperties: 1, description: 'A JSON schema (at least one keyword)' }) },
            { additionalProperties: false, description: 'null or {type: "json_schema", schema}' },
          ),
        ),
      },
      { additionalProperties: false },
    ),
  ),
  metadata: t.Optional(
    t.Object(
      {
        user_id: nullable(t.String()),
        session_id: t.Optional(t.String({ pattern: SESSION_ID_PATTERN, description: SESSION_ID_RULE })),
      },
      { additionalProperties: false },
    ),
  ),
  // Accepted for client compatibility, with nothing to do here: engines cache prompt prefixes on their
  // own (vLLM's prefix cache), a self-hosted fleet has one speed, and Anthropic's user profiles and
  // workspaces do not exist on it. The SDK types cache_control and speed as nullable: null is absent.
  cache_control: nullable(t.Object({ type: t.String() }, open)),
  speed: nullable(t.String()),
  user_profile_id: t.Optional(t.String()),
  workspace_id: t.Optional(t.String()),
}

export const AnthropicMessagesBody = t.Object(
  {
    ...fields,
    max_tokens: Type.Integer({ minimum: 1, description: 'Required; > 0' }),
    stop_sequences: t.Optional(t.Array(t.String({ minLength: 1 }))),
    temperature: t.Optional(t.Number({ minimum: 0, maximum: 1, description: 'Within [0, 1]' })),
    top_p: t.Optional(t.Number({ minimum: 0, maximum: 1, description: 'Within [0, 1]' })),
    top_k: t.Optional(Type.Integer({ minimum: 0, description: 'An integer >= 0' })),
    stream: t.Optional(t.Boolean()),
    // Accepted for client compatibility, with nothing to do here: a self-hosted fleet has one tier and
    // one place, and no cache-miss diagnostics to give. inference_geo and diagnostics may be null (the
    // SDK types them nullable): null is absent.
    service_tier: t.Optional(t.String()),
    inference_geo: nullable(t.String()),
    diagnostics: nullable(t.Object({ previous_message_id: nullable(t.String()) }, open)),
    // Containers hold Anthropic's code execution sandbox, which self-hosted engines do not have.
    container: t.Optional(t.Null({ description: 'Only null: code execution containers are not available on self-hosted engines' })),
  },
  { additionalProperties: false },
)

export const AnthropicCountTokensBody = t.Object(fields, { additionalProperties: false })

export const anthropicModels = {
  'anthropic.messages': AnthropicMessagesBody,
  'anthropic.count_tokens': AnthropicCountTokensBody,
}

export type AnthropicMessages = Static<typeof AnthropicMessagesBody>
export type AnthropicCountTokens = Static<typeof AnthropicCountTokensBody>
