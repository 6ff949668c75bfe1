// The body an engine receives: the client's, minus the gateway's own extension fields, and for
// streams with usage reporting switched on (the gateway counts tokens; the relay hides the usage
// chunk again when the client did not ask for it). Every other field is passed on untouched.
const GATEWAY_FIELDS = ['session_id', 'trace_id'] as const

export interface UpstreamBody {
  readonly text: string
  readonly clientWantsUsage: boolean
}

export function toUpstreamBody(body: Record<string, unknown>, stream: boolean): UpstreamBody {
  const out: Record<string, unknown> = { ...body }
  for (const field of GATEWAY_FIELDS) delete out[field]
  const options = body.stream_options
  const clientWantsUsage =
    typeof options === 'object' && options !== null && (options as { include_usage?: unknown }).include_usage === true
  if (stream) out.stream_options = { ...(typeof options === 'object' && options !== null ? options : {}), include_usage: true }
  return { text: JSON.stringify(out), clientWantsUsage }
}
