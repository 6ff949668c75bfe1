// The fuzz test's request generator: request number `i` of a seed is always the same request, whatever
// order answers arrive in. Every route of the gateway, hostile bodies, methods, queries and headers,
// sent as one of five principals. Ids are namespaced per principal (`fz-a-*` are made only by key A,
// and so on) so that "B never sees A's sessions" can be checked from ids alone; sentinel sessions of A
// are never changed by A or the admin, so they must end exactly as they began.
import { headerSafe, hostileString, malformedBody, mutateBody, Rng, type FuzzLimits } from '../helpers/fuzz'

export type Principal = 'admin' | 'a' | 'b' | 'none' | 'garbage'

export interface FuzzWorld {
  readonly limits: FuzzLimits
  readonly models: readonly string[]
  readonly engineUrl: string
  readonly engineId: string
  readonly secrets: { readonly admin: string; readonly a: string; readonly b: string }
  /** Ids of keys A and B (only non-admin principals aim at them) and spare keys (anyone may). */
  readonly keyIds: { readonly a: string; readonly b: string; readonly spare: readonly string[] }
  /** Sessions of key A that only B, no key and a garbage key aim at. */
  readonly sentinels: readonly string[]
  readonly allowedOrigin: string
}

export interface FuzzRequest {
  readonly index: number
  readonly principal: Principal
  readonly method: string
  readonly path: string
  readonly headers: Record<string, string>
  readonly body?: string | Uint8Array
  /** The session the request acts on (path id, else body session_id, else x-session-id), if any. */
  readonly sessionId?: string
  /** Whether the request is an import (which skips taken ids and answers 200). */
  readonly isImport: boolean
  /** The x-request-id sent, when it was not a well-formed one. */
  readonly badRequestId?: string
  readonly origin?: string
}

export const SESSION_ID = /^[A-Za-z0-9._:-]{1,128}$/

const GARBAGE_IDS = ['../../etc', 'a b', 'x'.repeat(200), '\u0000', '<script>', ' ', 'ünï', '\u202eevil', 'a/b', '%zz', 'a?b', 'a#b', '😀', 'x\ny'].filter(
  (id) => !SESSION_ID.test(id),
)

/** Which principal's namespace a session id lies in (sentinels are A's). */
export function ownerOf(id: string, world: FuzzWorld): Principal | undefined {
  if (world.sentinels.includes(id)) return 'a'
  return (/^fz-(admin|a|b|none|garbage)-/.exec(id)?.[1] as Principal | undefined) ?? undefined
}

const ISO = '2024-05-01T10:00:00.000Z'

interface Route {
  method: string
  /** The path; `id` is a session, key or engine id chosen for it. */
  path: (id: string) => string
  /** The kind of id the path takes, and whether the route creates, reads or changes a session. */
  ids?: 'session-read' | 'session-write' | 'key' | 'engine'
  /** A valid body and the top-level fields mutations must leave alone. */
  body?: (g: Gen) => Record<string, unknown>
  frozen?: string[]
  query?: (g: Gen) => string
  /** Where the request names a session to create or continue. */
  creates?: 'body' | 'header'
  /** Whether x-session-id names the session (inference); elsewhere the header means nothing. */
  usesHeader?: boolean
}

interface Gen {
  rng: Rng
  world: FuzzWorld
  principal: Principal
  model: string
  /** A session id to create or continue. */
  createId(): string
}

const pick = <T>(g: Gen, items: readonly T[]) => g.rng.pick(items)
const maybe = (g: Gen, p: number, value: () => unknown) => (g.rng.chance(p) ? value() : undefined)
const msgs = (g: Gen) => [{ role: 'user', content: pick(g, ['hi', 'what is sqlite?', hostileString(g.rng, g.world.limits)]) }]
const qs = (params: Record<string, string | undefined>) =>
  Object.entries(params)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${v}`)
    .join('&')
const pageQuery = (g: Gen) =>
  qs({ limit: maybe(g, 0.5, () => pick(g, ['-5', '0', '1', '2', '100', '1000000', 'abc', '1e3', '', '2.5', '%zz'])) as string | undefined, cursor: maybe(g, 0.4, () => pick(g, ['garbage', '', '%00', 'eyJ4IjoxfQ', 'MTIz', encodeURIComponent('\u202e')])) as string | undefined })
const keyBody = (g: Gen) => ({ name: `fz-${g.rng.word()}`, models: pick(g, [null, ['m'], []]), rpm: pick(g, [null, 100]), tpm: null, max_concurrency: pick(g, [null, 4]), expires_at: pick(g, [null, '2099-01-01T00:00:00Z']) })
const dateish = ['notadate', '2024-01-01', '2024-13-45', '', '2024-01-01T00:00:00Z', '-1', '99999-01-01', '2024-02-30', '%zz']

const ROUTES: Route[] = [
  { method: 'POST', path: () => '/v1/chat/completions', creates: 'body', usesHeader: true, body: (g) => ({ model: g.model, messages: msgs(g), max_tokens: 8, stream: g.rng.chance(0.2), session_id: maybe(g, 0.5, () => g.createId()), metadata: { k: 'v' } }) },
  { method: 'POST', path: () => '/v1/chat/completions', creates: 'header', usesHeader: true, body: (g) => ({ model: g.model, messages: msgs(g), temperature: 0.5 }) },
  { method: 'POST', path: () => '/v1/completions', body: (g) => ({ model: g.model, prompt: 'hello', max_tokens: 8, stream: g.rng.chance(0.2) }) },
  { method: 'POST', path: () => '/v1/embeddings', body: (g) => ({ model: g.model, input: pick(g, ['hi', ['a', 'b'], [1, 2, 3]]) }) },
  { method: 'POST', path: () => '/v1/messages', creates: 'header', usesHeader: true, body: (g) => ({ model: g.model, max_tokens: 16, messages: msgs(g), system: 'be brief', stream: g.rng.chance(0.2), metadata: { user_id: 'u' } }) },
  { method: 'POST', path: () => '/v1/messages/count_tokens', body: (g) => ({ model: g.model, messages: msgs(g) }) },
  { method: 'GET', path: () => '/v1/models' },
  { method: 'GET', path: () => '/sessions', query: pageQuery },
  { method: 'POST', path: () => '/sessions', creates: 'body', body: (g) => ({ session_id: g.createId(), title: 'fuzz', metadata: { project: 'x' } }) },
  { method: 'GET', path: (id) => `/sessions/${id}`, ids: 'session-read' },
  { method: 'DELETE', path: (id) => `/sessions/${id}`, ids: 'session-write' },
  { method: 'GET', path: (id) => `/sessions/${id}/messages`, ids: 'session-read', query: pageQuery },
  { method: 'GET', path: (id) => `/sessions/${id}/export`, ids: 'session-read' },
  { method: 'POST', path: (id) => `/sessions/${id}/clear`, ids: 'session-write' },
  { method: 'PATCH', path: (id) => `/sessions/${id}/title`, ids: 'session-write', body: () => ({ title: 'renamed' }) },
  { method: 'GET', path: () => '/sessions/export' },
  {
    method: 'POST',
    path: () => '/sessions/import',
    body: (g) => ({ version: '1.0', exported_at: ISO, sessions: [{ id: g.createId(), metadata: { title: 'imp' }, messages: [{ role: 'user', content: 'hi', timestamp: ISO }], created_at: ISO, last_active: ISO }] }),
    query: (g) => qs({ overwrite: maybe(g, 0.6, () => pick(g, ['maybe', 'true', '1', 'false', '', 'TRUE'])) as string | undefined }),
  },
  {
    method: 'POST',
    path: () => '/sessions/cleanup',
    // A and the admin never clean up young sessions: the sentinels must survive.
    query: (g) => qs({ max_age_minutes: maybe(g, 0.8, () => pick(g, g.principal === 'a' || g.principal === 'admin' ? ['-1', 'abc', '1e308', '', '999999', 'NaN', '%zz'] : ['0', '-1', 'abc', '1e308', '', '5', 'NaN'])) as string | undefined }),
  },
  { method: 'GET', path: () => '/v1/management' },
  { method: 'GET', path: () => '/v1/management/status' },
  { method: 'GET', path: () => '/v1/management/engines' },
  { method: 'GET', path: (id) => `/v1/management/engines/${id}`, ids: 'engine' },
  { method: 'PATCH', path: (id) => `/v1/management/engines/${id}`, ids: 'engine', body: () => ({ weight: 2, max_concurrency: 8, metadata: { rack: 'x' } }) },
  { method: 'DELETE', path: (id) => `/v1/management/engines/${id}`, ids: 'engine', query: (g) => qs({ drain: maybe(g, 0.5, () => pick(g, ['true', 'maybe', '-1'])) as string | undefined }) },
  // Only ever the fake engine's own URL (a 409): the gateway must never reach beyond loopback.
  { method: 'POST', path: () => '/v1/management/engines/register', frozen: ['url'], body: (g) => ({ engine_id: `fz-${g.rng.word()}`, url: g.world.engineUrl, weight: 1, metadata: {} }) },
  { method: 'POST', path: () => '/v1/management/engines/prune' },
  { method: 'GET', path: () => '/v1/management/keys' },
  { method: 'POST', path: () => '/v1/management/keys', body: keyBody },
  { method: 'GET', path: (id) => `/v1/management/keys/${id}`, ids: 'key' },
  { method: 'PATCH', path: (id) => `/v1/management/keys/${id}`, ids: 'key', body: (g) => ({ name: 'renamed', rpm: pick(g, [5, null]) }) },
  { method: 'DELETE', path: (id) => `/v1/management/keys/${id}`, ids: 'key' },
  { method: 'POST', path: (id) => `/v1/management/keys/${id}/revoke`, ids: 'key' },
  { method: 'GET', path: () => '/v1/management/usage', query: (g) => qs({ key: maybe(g, 0.3, () => pick(g, ['garbage', 'admin', 'anonymous', g.world.keyIds.a])) as string | undefined, model: maybe(g, 0.3, () => g.model) as string | undefined, from: maybe(g, 0.6, () => pick(g, dateish)) as string | undefined, to: maybe(g, 0.6, () => pick(g, dateish)) as string | undefined }) },
  { method: 'GET', path: () => '/health' },
  { method: 'GET', path: () => '/' },
  { method: 'GET', path: () => '/metrics' },
  { method: 'GET', path: () => '/v1/stats' },
  { method: 'GET', path: () => '/swagger/json' },
  { method: 'GET', path: () => '/v1/nope' },
  { method: 'POST', path: () => '/v1/chat/completions/extra' },
  { method: 'GET', path: () => '/sessions/a/b/c' },
  { method: 'POST', path: () => '/v1/messages/nope' },
  { method: 'GET', path: () => '/%zz/%00' },
  { method: 'GET', path: () => '/v1/../../etc/passwd' },
]

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD']
const CONTENT_TYPES = ['application/json', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/octet-stream', 'application/json; charset=utf-16', 'garbage/garbage', 'application/json;;;', '']
const PRINCIPALS: readonly (readonly [number, Principal])[] = [[35, 'a'], [25, 'b'], [15, 'admin'], [13, 'none'], [12, 'garbage']]

function credentialHeaders(g: Gen): Record<string, string> {
  const { rng, principal, world } = g
  const garbage = () => rng.pick(['Bearer garbage', 'Basic dXNlcjpwYXNz', `Bearer ${'x'.repeat(500)}`, `Bearer sk-sgl-${rng.word(43)}`, 'Bearer', 'bearer  ', headerSafe(hostileString(rng, { ...world.limits, maxStringChars: 50 }))])
  if (principal === 'none') return rng.chance(0.2) ? { authorization: '' } : {}
  if (principal === 'garbage') return rng.chance(0.5) ? { authorization: garbage() } : { 'x-api-key': garbage().replace(/^Bearer /, '') }
  const secret = world.secrets[principal]
  return rng.weighted<Record<string, string>>([
    [5, { authorization: `Bearer ${secret}` }],
    [3, { 'x-api-key': secret }],
    [1, { authorization: `Bearer ${secret}`, 'x-api-key': garbage().replace(/^Bearer /, '') }],
  ])
}

/** The request number `index` of the run seeded with `seed`. */
export function fuzzRequest(seed: number, index: number, world: FuzzWorld): FuzzRequest {
  const rng = new Rng((seed ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0)
  const principal = rng.weighted(PRINCIPALS)
  const route = rng.pick(ROUTES)
  const method = rng.chance(0.1) ? rng.pick(METHODS) : route.method
  // A and the admin may touch a sentinel only to read it.
  const mayTouchSentinel = principal !== 'a' && principal !== 'admin'
  const own = () => `fz-${principal}-${rng.int(0, 19)}`
  const g: Gen = {
    rng,
    world,
    principal,
    model: rng.weighted([[8, 'm'], [2, 'm2'], [1, 'nope'], [1, '']]),
    createId: () => rng.weighted<() => string>([[15, own], [3, () => rng.pick(GARBAGE_IDS)], [mayTouchSentinel ? 2 : 0, () => rng.pick(world.sentinels)]])(),
  }
  const readOnly = method === 'GET' || method === 'HEAD' || method === 'OPTIONS'
  const sessionPathId = (): string => {
    const others = ['a', 'b', 'admin'].filter((p) => p !== principal)
    return rng.weighted<() => string>([
      [9, own],
      [4, () => `fz-${rng.pick(others)}-${rng.int(0, 19)}`],
      [readOnly || mayTouchSentinel ? 3 : 0, () => rng.pick(world.sentinels)],
      [4, () => rng.pick(GARBAGE_IDS)],
    ])()
  }
  const keyId = () => rng.pick([...world.keyIds.spare, 'key_0000000000000000', 'garbage', ...(principal === 'admin' ? [] : [world.keyIds.a, world.keyIds.b])])
  const engineId = () => (principal === 'admin' && !readOnly ? rng.pick(['nope', 'fz-ghost', 'a b']) : rng.pick([world.engineId, 'nope']))
  let id = ''
  if (route.ids === 'session-read' || route.ids === 'session-write') id = sessionPathId()
  if (route.ids === 'key') id = keyId()
  if (route.ids === 'engine') id = engineId()
  const encoded = rng.chance(0.85) ? encodeURIComponent(id) : id
  const query = route.query?.(g) ?? ''
  const path = route.path(encoded) + (query ? `?${query}` : rng.chance(0.05) ? `?${rng.pick(['%zz', '&&&', 'a=1&a=2', '=', '?'])}` : '')

  const headers: Record<string, string> = credentialHeaders(g)
  let body: string | Uint8Array | undefined
  let bodySessionId: string | undefined
  if (method !== 'GET' && method !== 'HEAD' && (route.body || rng.chance(0.1))) {
    const valid = route.body?.(g) ?? { anything: 1 }
    const shaped = rng.chance(0.15) ? undefined : mutateBody(rng, world.limits, valid, route.frozen)
    body = shaped === undefined ? malformedBody(rng, valid) : JSON.stringify(shaped)
    if (shaped && typeof shaped === 'object' && typeof (shaped as Record<string, unknown>).session_id === 'string')
      bodySessionId = (shaped as Record<string, unknown>).session_id as string
    const contentType = rng.chance(0.85) ? 'application/json' : rng.pick(CONTENT_TYPES)
    if (contentType) headers['content-type'] = contentType
  }
  let headerSessionId: string | undefined
  if (route.creates === 'header' ? rng.chance(0.6) : rng.chance(0.05)) {
    headerSessionId = headerSafe(route.creates ? g.createId() : rng.pick(GARBAGE_IDS))
    headers['x-session-id'] = headerSessionId
  }
  let badRequestId: string | undefined
  if (rng.chance(0.15)) {
    const given = rng.pick(['<script>', 'x'.repeat(200), 'a b', 'ok-id-1', '', 'a;b', 'é'])
    headers['x-request-id'] = given
    if (!SESSION_ID.test(given) && given) badRequestId = given
  }
  let origin: string | undefined
  if (rng.chance(0.1)) headers.origin = origin = rng.pick([world.allowedOrigin, 'https://evil.example', 'null', `${world.allowedOrigin}.evil`])
  if (rng.chance(0.03)) headers['x-pad'] = 'p'.repeat(rng.int(2000, 12_000))
  if (rng.chance(0.05)) headers[rng.pick(['accept', 'accept-encoding', 'x-forwarded-for', 'x-session-affinity', 'anthropic-version', 'traceparent'])] = headerSafe(hostileString(rng, { ...world.limits, maxStringChars: 200 }))

  // A swapped method is another route (HEAD /sessions lists): only the route's own method acts on its session.
  const named = method === route.method ? (route.creates === 'body' ? bodySessionId : undefined) || (route.usesHeader ? headerSessionId : undefined) : undefined
  const sessionId = route.ids?.startsWith('session') ? id : named
  return { index, principal, method, path, headers, body, sessionId, isImport: route.path('') === '/sessions/import', badRequestId, origin }
}
