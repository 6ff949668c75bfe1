// Limits on what a JSON body may hold besides its size: nesting depth, the length of any one string,
// the number of messages of a chat, and numbers a float can hold (JSON's 1e999 parses to Infinity).
// Checked once on the parsed value, before validation, so no later code (validator, router, session
// store, engine) ever sees a body beyond them.
import { invalidRequest } from '../errors'

export interface BodyLimits {
  readonly maxMessages: number
  readonly maxStringChars: number
  readonly maxJsonDepth: number
}

interface Node {
  readonly value: unknown
  readonly depth: number
  readonly parent?: Node
  readonly key?: string | number
}

/**
 * Throws 400 invalid_argument naming the first place the body breaks a limit; `conversation`: the
 * body's `messages` is one for an engine, held to maxMessages (an imported session's is not).
 */
export function checkBodyLimits(body: unknown, limits: BodyLimits, conversation = true): void {
  const messages = (body as { messages?: unknown } | null)?.messages
  if (conversation && Array.isArray(messages) && messages.length > limits.maxMessages)
    throw invalidRequest(`messages has ${messages.length} entries; this gateway accepts at most ${limits.maxMessages} (limits.max_messages)`, 'messages')
  // The common case, a body within every limit, is told by a walk that allocates nothing; only a body
  // that breaks one is walked again to name the place.
  if (withinLimits(body, 0, limits)) return
  const stack: Node[] = [{ value: body, depth: 0 }]
  while (stack.length) {
    const node = stack.pop()!
    const { value, depth } = node
    if (typeof value === 'number') {
      // JSON allows 1e999, which parses to Infinity and would be sent on as null.
      if (!Number.isFinite(value)) {
        const where = pathOf(node)
        throw invalidRequest(`${where ? `Invalid value for '${where}'` : 'The body'}: the number is too large to represent (it overflows a 64-bit float)`, where || null)
      }
    } else if (typeof value === 'string') {
      if (value.length > limits.maxStringChars)
        throw invalidRequest(`${pathOf(node) || 'The body'} is ${value.length} characters long; this gateway accepts strings of at most ${limits.maxStringChars} (limits.max_string_chars)`, pathOf(node) || null)
    } else if (value !== null && typeof value === 'object') {
      if (depth >= limits.maxJsonDepth)
        throw invalidRequest(`The JSON body nests deeper than ${limits.maxJsonDepth} levels (limits.max_json_depth) at ${pathOf(node) || 'its top'}`, pathOf(node) || null)
      if (Array.isArray(value)) for (let i = 0; i < value.length; i++) stack.push({ value: value[i], depth: depth + 1, parent: node, key: i })
      else
        for (const key in value) {
          const child: Node = { value: (value as Record<string, unknown>)[key], depth: depth + 1, parent: node, key }
          if (key.length > limits.maxStringChars)
            throw invalidRequest(`A field name at ${pathOf(node) || 'the top'} is ${key.length} characters long; this gateway accepts strings of at most ${limits.maxStringChars} (limits.max_string_chars)`, pathOf(node) || null)
          stack.push(child)
        }
    }
  }
}

/** Whether `value` (at `depth`) keeps to the limits and holds only finite numbers; recursion stops at the depth limit. */
function withinLimits(value: unknown, depth: number, limits: BodyLimits): boolean {
  if (typeof value === 'number') return Number.isFinite(value)
  if (typeof value === 'string') return value.length <= limits.maxStringChars
  if (value === null || typeof value !== 'object') return true
  if (depth >= limits.maxJsonDepth) return false
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (!withinLimits(value[i], depth + 1, limits)) return false
    return true
  }
  for (const key in value) if (key.length > limits.maxStringChars || !withinLimits((value as Record<string, unknown>)[key], depth + 1, limits)) return false
  return true
}

/** `messages[0].content`: the place of a node, as OpenAI's `param` names it. */
function pathOf(node: Node): string {
  const parts: string[] = []
  for (let n: Node | undefined = node; n?.parent; n = n.parent) parts.push(typeof n.key === 'number' ? `[${n.key}]` : `.${n.key}`)
  return parts.reverse().join('').replace(/^\./, '')
}
