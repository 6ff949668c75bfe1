// Anthropic Messages request → OpenAI chat completion request, for engines that speak only the OpenAI
// API. Pure: every block the translation cannot carry faithfully is a 400 naming where it is, never a
// silent drop. (The request's top level is validated by schemas/anthropic.ts before this runs.)
import { invalidRequest } from '../errors'

type Json = Record<string, unknown>

export interface AnthropicRequest {
  model: string
  messages: { role: 'user' | 'assistant'; content: string | Json[] }[]
  max_tokens?: number
  system?: string | Json[]
  tools?: Json[]
  tool_choice?: Json
  stop_sequences?: string[]
  temperature?: number
  top_p?: number
  top_k?: number
  metadata?: Json
  thinking?: Json
  output_config?: Json
  stream?: boolean
  [field: string]: unknown
}

/** The OpenAI chat body for an Anthropic request (stream or not, usage always reported). */
export function toOpenAIChat(request: AnthropicRequest): Json {
  const body: Json = { model: request.model, messages: toOpenAIMessages(request) }
  // A request ending with an assistant turn of text is a prefill: the reply continues that text, as
  // Anthropic answers it (vLLM's and SGLang's continue_final_message; a generation prompt would open a
  // new turn). A final assistant turn with no text (tool calls only, empty) has nothing to continue.
  const last = (body.messages as Json[]).at(-1)
  if (last?.role === 'assistant' && typeof last.content === 'string' && last.content && !last.tool_calls) {
    body.continue_final_message = true
    body.add_generation_prompt = false
  }
  if (request.max_tokens !== undefined) body.max_tokens = request.max_tokens
  if (request.stop_sequences?.length) body.stop = request.stop_sequences
  if (request.temperature !== undefined) body.temperature = request.temperature
  if (request.top_p !== undefined) body.top_p = request.top_p
  if (request.top_k !== undefined) body.top_k = request.top_k
  if (request.tools?.length) body.tools = request.tools.map(toOpenAITool)
  if (request.tool_choice) Object.assign(body, toolChoice(request.tool_choice))
  const userId = request.metadata?.user_id
  if (typeof userId === 'string' && userId) body.user = userId
  const sessionId = request.metadata?.session_id
  if (typeof sessionId === 'string' && sessionId) body.session_id = sessionId
  if (request.thinking) body.chat_template_kwargs = thinkingSwitch(request.thinking)
  // output_config.effort is not sent: its nearest OpenAI field, reasoning_effort, is read by few engine
  // models (gpt-oss) and has fewer levels. A JSON schema format is the structured output vLLM and SGLang take.
  const format = request.output_config?.format as Json | null | undefined
  if (format) body.response_format = { type: 'json_schema', json_schema: { name: 'output', schema: format.schema } }
  if (request.stream === true) {
    body.stream = true
    body.stream_options = { include_usage: true }
  }
  return body
}

/** The chat messages alone (count_tokens renders these). */
export function toOpenAIMessages(request: Pick<AnthropicRequest, 'system' | 'messages'>): Json[] {
  const out: Json[] = []
  const system = systemText(request.system)
  if (system !== undefined) out.push({ role: 'system', content: system })
  request.messages.forEach((message, i) => {
    const at = `messages[${i}]`
    if (typeof message.content === 'string') out.push({ role: message.role, content: message.content })
    else if (message.role === 'assistant') out.push(assistantMessage(message.content, at))
    else out.push(...userMessages(message.content, at))
  })
  return out
}

function systemText(system: AnthropicRequest['system']): string | undefined {
  if (system === undefined) return undefined
  if (typeof system === 'string') return system
  return system
    .map((block, j) => {
      if (block.type !== 'text' || typeof block.text !== 'string') throw invalidRequest(`system[${j}]: only text blocks may form the system prompt`, `system[${j}].type`)
      return block.text
    })
    .join('\n')
}

/** A user turn: its tool results become OpenAI tool messages (first, answering the previous turn's calls), the rest one user message. */
function userMessages(blocks: Json[], at: string): Json[] {
  const tools: Json[] = []
  const parts: Json[] = []
  blocks.forEach((block, j) => {
    const where = `${at}.content[${j}]`
    switch (block.type) {
      case 'text':
        parts.push({ type: 'text', text: text(block, where) })
        break
      case 'image':
        parts.push(imagePart(block, where))
        break
      case 'tool_result':
        tools.push(toolResult(block, where))
        break
      default:
        throw unsupportedBlock(block, where, 'user')
    }
  })
  const out = [...tools]
  if (parts.length) out.push({ role: 'user', content: parts.every((p) => p.type === 'text') ? parts.map((p) => p.text).join('\n') : parts })
  return out
}

function assistantMessage(blocks: Json[], at: string): Json {
  let content = ''
  const calls: Json[] = []
  blocks.forEach((block, j) => {
    const where = `${at}.content[${j}]`
    switch (block.type) {
      case 'text':
        content += text(block, where)
        break
      case 'tool_use':
        if (typeof block.id !== 'string' || typeof block.name !== 'string')
          throw invalidRequest(`${where}: a tool_use block needs a string id and name`, `${where}.id`)
        calls.push({ id: block.id, type: 'function', function: { name: block.name, arguments: JSON.stringify(block.input ?? {}) } })
        break
      // Earlier thinking is the model's own scratch work: engines do not take it back as input.
      case 'thinking':
      case 'redacted_thinking':
        break
      default:
        throw unsupportedBlock(block, where, 'assistant')
    }
  })
  const message: Json = { role: 'assistant', content: calls.length && !content ? null : content }
  if (calls.length) message.tool_calls = calls
  return message
}

function toolResult(block: Json, where: string): Json {
  if (typeof block.tool_use_id !== 'string') throw invalidRequest(`${where}: a tool_result block needs a string tool_use_id`, `${where}.tool_use_id`)
  let content: string | Json[]
  if (block.content === undefined || typeof block.content === 'string') content = (block.content as string | undefined) ?? ''
  else if (Array.isArray(block.content)) {
    const parts = (block.content as Json[]).map((part, k) => {
      const partAt = `${where}.content[${k}]`
      if (part.type === 'text') return { type: 'text', text: text(part, partAt) }
      if (part.type === 'image') return imagePart(part, partAt)
      throw unsupportedBlock(part, partAt, 'tool_result')
    })
    content = parts.every((p) => p.type === 'text') ? parts.map((p) => p.text as string).join('\n') : parts
  } else throw invalidRequest(`${where}.content: expected a string or a list of text and image blocks`, `${where}.content`)
  // OpenAI tool messages have no error flag: say it in the content, where the model reads it.
  if (block.is_error === true) content = typeof content === 'string' ? `Error: ${content}` : [{ type: 'text', text: 'Error:' }, ...content]
  return { role: 'tool', tool_call_id: block.tool_use_id, content }
}

function imagePart(block: Json, where: string): Json {
  const source = block.source as Json | undefined
  if (source?.type === 'base64' && typeof source.media_type === 'string' && typeof source.data === 'string')
    return { type: 'image_url', image_url: { url: `data:${source.media_type};base64,${source.data}` } }
  if (source?.type === 'url' && typeof source.url === 'string') return { type: 'image_url', image_url: { url: source.url } }
  throw invalidRequest(`${where}.source: expected {type: "base64", media_type, data} or {type: "url", url}`, `${where}.source`)
}

function text(block: Json, where: string): string {
  if (typeof block.text !== 'string') throw invalidRequest(`${where}.text: expected a string`, `${where}.text`)
  return block.text
}

function unsupportedBlock(block: Json, where: string, role: string) {
  return invalidRequest(
    `${where}: content blocks of type '${String(block.type)}' are not supported in ${role} content by this gateway's engines`,
    `${where}.type`,
  )
}

function toOpenAITool(tool: Json, i: number): Json {
  if (typeof tool.name !== 'string' || !tool.name) throw invalidRequest(`tools[${i}].name: expected a non-empty string`, `tools[${i}].name`)
  // Server tools (web_search, bash, …) run at Anthropic; a self-hosted engine has none of them.
  if (tool.type !== undefined && tool.type !== 'custom')
    throw invalidRequest(`tools[${i}]: server tools of type '${String(tool.type)}' are not available on self-hosted engines; define a custom tool`, `tools[${i}].type`)
  const fn: Json = { name: tool.name, parameters: tool.input_schema ?? { type: 'object', properties: {} } }
  if (typeof tool.description === 'string') fn.description = tool.description
  return { type: 'function', function: fn }
}

function toolChoice(choice: Json): Json {
  const out: Json = {}
  switch (choice.type) {
    case 'auto':
      out.tool_choice = 'auto'
      break
    case 'any':
      out.tool_choice = 'required'
      break
    case 'none':
      out.tool_choice = 'none'
      break
    case 'tool':
      if (typeof choice.name !== 'string') throw invalidRequest('tool_choice.name: expected the name of a tool', 'tool_choice.name')
      out.tool_choice = { type: 'function', function: { name: choice.name } }
      break
    default:
      throw invalidRequest(`tool_choice.type: expected auto, any, tool or none, got '${String(choice.type)}'`, 'tool_choice.type')
  }
  if (choice.disable_parallel_tool_use === true) out.parallel_tool_calls = false
  return out
}

/**
 * Extended thinking → the chat template switch reasoning models served by vLLM and SGLang read
 * (Qwen3's enable_thinking, DeepSeek's thinking). The switch is all or nothing: budget_tokens, and
 * the model's own choice of when to think (adaptive, between_tools), have no OpenAI counterpart, so
 * every kind of thinking turns it on; `display` shapes only Anthropic's answer.
 */
function thinkingSwitch(thinking: Json): Json {
  switch (thinking.type) {
    case 'enabled':
    case 'adaptive':
    case 'between_tools':
      return { enable_thinking: true, thinking: true }
    case 'disabled':
      return { enable_thinking: false, thinking: false }
    default:
      throw invalidRequest(`thinking.type: expected enabled, adaptive, between_tools or disabled, got '${String(thinking.type)}'`, 'thinking.type')
  }
}
