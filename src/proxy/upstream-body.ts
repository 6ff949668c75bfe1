// The body an engine receives: the client's, minus the gateway's own extension fields, and for
// streams with usage reporting switched on (the gateway counts tokens; the relay hides the usage
// chunk again when the client did not ask for it). Every other field is passed on untouched: when
// nothing is removed, the client's own JSON text goes to the engine as it came (no second
// serialisation, whose cost grows with the prompt; numbers past 2^53, such as a seed, kept exact).
const GATEWAY_FIELDS = ['session_id', 'trace_id'] as const

export interface UpstreamBody {
  readonly text: string
  readonly clientWantsUsage: boolean
}

/** Added to a stream request that has no stream_options of its own. */
const USAGE_ON = '"stream_options":{"include_usage":true}'

/**
 * @param bodyText the client's JSON text of `body` (the object it parsed to, or a copy equal to it)
 */
export function toUpstreamBody(body: Record<string, unknown>, stream: boolean, bodyText?: string): UpstreamBody {
  // The usual body carries none of the gateway's fields nor stream options: it is written as it is
  // (a stream's usage switch appended to the object's text), without a copy of it.
  if (body.session_id === undefined && body.trace_id === undefined && body.stream_options === undefined) {
    const text = bodyText?.trim() ?? JSON.stringify(body)
    if (!stream) return { text, clientWantsUsage: false }
    const empty = text.slice(1, -1).trim() === ''
    return { text: empty ? `{${USAGE_ON}}` : `${text.slice(0, -1)},${USAGE_ON}}`, clientWantsUsage: false }
  }
  const out: Record<string, unknown> = { ...body }
  for (const field of GATEWAY_FIELDS) delete out[field]
  const options = body.stream_options
  const clientWantsUsage =
    typeof options === 'object' && options !== null && (options as { include_usage?: unknown }).include_usage === true
  if (stream) out.stream_options = { ...(typeof options === 'object' && options !== null ? options : {}), include_usage: true }
  return { text: JSON.stringify(out), clientWantsUsage }
}
