// Which API's shapes a request is answered in: Anthropic's on the Messages routes, and on the model
// routes both APIs share when the client sends `anthropic-version` (Anthropic's SDKs send it on every
// request, OpenAI's never); OpenAI's everywhere else.
import { pathOf } from './request-path'

export function speaksAnthropic(request: Request): boolean {
  const path = pathOf(request)
  if (path.startsWith('/v1/messages')) return true
  return (path === '/v1/models' || path.startsWith('/v1/models/')) && fromAnthropicClient(request)
}

/** The client is one of Anthropic's SDKs (on a route both APIs share, the model routes). */
export function fromAnthropicClient(request: Request): boolean {
  return request.headers.has('anthropic-version')
}
