// Keys, tenancy, usage and rate-limit tests' toolkit: gateways stopped after each test, the
// /v1/management/keys and /usage routes called with a chosen key, keyed chat requests (raw fetch and
// the official SDKs), the /sessions routes as one key sees them, and the OpenAI error envelope.
import Anthropic from '@anthropic-ai/sdk'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type OpenAI from 'openai'
import { startGateway, type TestGateway } from './gateway'
import { readJson } from './http'

/** Admin key used throughout (>= 16 characters, as the gateway requires). */
export const ADMIN_KEY = 'admin-key-0123456789abcdef'

export const bearer = (key?: string): Record<string, string> => (key ? { authorization: `Bearer ${key}` } : {})

export interface KeyRecord {
  id: string
  name: string
  prefix: string
  models: string[] | null
  rpm: number | null
  tpm: number | null
  max_concurrency: number | null
  expires_at: string | null
  revoked: boolean
  created_at: string
  last_used_at: string | null
}

/** What POST /v1/management/keys answers: the record plus the secret, shown once. */
export interface CreatedKey extends KeyRecord {
  key: string
}

export { errorOf, type ErrorBody } from './sessions-api'
export { expectOpenAIError } from './http'

/** Sends a request with `key` as Bearer (or no credential when undefined), JSON body when given. */
export function send(gw: TestGateway, method: string, path: string, key: string | undefined, body?: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return gw.fetch(path, {
    method,
    headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...bearer(key), ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  })
}

/** The keys and usage routes of the management API, called with `as` (the admin key unless told; null: no credential). */
export function keysApi(gw: TestGateway, as: string | null = ADMIN_KEY) {
  const keys = '/v1/management/keys'
  const key = as ?? undefined
  return {
    create: (body: unknown) => send(gw, 'POST', keys, key, body),
    list: () => send(gw, 'GET', keys, key),
    get: (id: string) => send(gw, 'GET', `${keys}/${id}`, key),
    patch: (id: string, body: unknown) => send(gw, 'PATCH', `${keys}/${id}`, key, body),
    remove: (id: string) => send(gw, 'DELETE', `${keys}/${id}`, key),
    revoke: (id: string) => send(gw, 'POST', `${keys}/${id}/revoke`, key),
    usage: (query = '') => send(gw, 'GET', `/v1/management/usage${query}`, key),
  }
}

/** Creates a virtual key with the admin key; throws unless the answer is 200. */
export async function createKey(gw: TestGateway, body: Record<string, unknown> = {}): Promise<CreatedKey> {
  const res = await keysApi(gw).create({ name: 'test key', ...body })
  if (res.status !== 200) throw new Error(`creating a key answered ${res.status}: ${await res.text()}`)
  return (await readJson(res)) as CreatedKey
}

export const userSays = (content = 'hi') => [{ role: 'user', content }]

/** A raw non-streamed (unless `extra` says stream) chat completion request with `key` as Bearer. */
export const chatAs = (gw: TestGateway, key: string | undefined, model = 'mock', extra: Record<string, unknown> = {}, headers: Record<string, string> = {}) =>
  send(gw, 'POST', '/v1/chat/completions', key, { model, messages: userSays(), ...extra }, headers)

/** The official OpenAI SDK with `key`. */
export const openaiAs = (gw: TestGateway, key: string): OpenAI => gw.openai({ apiKey: key })

/** The official Anthropic SDK with `key` (sent as x-api-key), without SDK-side retries. */
export const anthropicAs = (gw: TestGateway, key: string): Anthropic => new Anthropic({ baseURL: gw.url, apiKey: key, maxRetries: 0 })

/** The /sessions routes as the holder of `key` sees them. */
export function sessionsAs(gw: TestGateway, key: string | undefined) {
  const id = encodeURIComponent
  return {
    list: (query = '') => send(gw, 'GET', `/sessions${query}`, key),
    create: (body?: unknown) => send(gw, 'POST', '/sessions', key, body),
    get: (sessionId: string) => send(gw, 'GET', `/sessions/${id(sessionId)}`, key),
    remove: (sessionId: string) => send(gw, 'DELETE', `/sessions/${id(sessionId)}`, key),
    clear: (sessionId: string) => send(gw, 'POST', `/sessions/${id(sessionId)}/clear`, key),
    rename: (sessionId: string, title: string) => send(gw, 'PATCH', `/sessions/${id(sessionId)}/title`, key, { title }),
    messages: (sessionId: string) => send(gw, 'GET', `/sessions/${id(sessionId)}/messages`, key),
    exportAll: () => send(gw, 'GET', '/sessions/export', key),
    exportOne: (sessionId: string) => send(gw, 'GET', `/sessions/${id(sessionId)}/export`, key),
    import: (payload: unknown, query = '') => send(gw, 'POST', `/sessions/import${query}`, key, payload),
    cleanup: (query = '') => send(gw, 'POST', `/sessions/cleanup${query}`, key),
  }
}

/** One chat turn on a session through the official OpenAI SDK with `key` (session_id is a gateway body field). */
export function chatTurnAs(gw: TestGateway, key: string, sessionId: string, content = 'hello'): Promise<OpenAI.Chat.ChatCompletion> {
  const params = { model: 'mock', messages: [{ role: 'user', content }], session_id: sessionId }
  return openaiAs(gw, key).chat.completions.create(params as OpenAI.Chat.ChatCompletionCreateParamsNonStreaming)
}

/** Starts gateways, temp dirs and anything deferred, and stops every one of them in afterEach (call cleanup()). */
export class AuthFixtures {
  private readonly stops: (() => Promise<void> | void)[] = []

  /** A gateway from CLI-style arguments (in-memory db unless `--db` is given). */
  async gateway(argv: string[] = [], env: Record<string, string> = {}): Promise<TestGateway> {
    const started = await startGateway(argv, { env })
    let stopped: Promise<void> | undefined
    const gw: TestGateway = { ...started, stop: () => (stopped ??= started.stop()) }
    this.stops.push(() => gw.stop())
    return gw
  }

  /** A mock-engine gateway with the admin key (and any more arguments). */
  mockGateway(argv: string[] = [], env: Record<string, string> = {}): Promise<TestGateway> {
    return this.gateway(['--mock', '--admin-key', ADMIN_KEY, ...argv], env)
  }

  /** A fresh temp directory, removed when the test is over. */
  dir(): string {
    const dir = mkdtempSync(join(tmpdir(), 'gw-auth-'))
    this.stops.push(() => rmSync(dir, { recursive: true, force: true }))
    return dir
  }

  /** A config file with `text`, in a temp directory removed when the test is over. */
  configFile(text: string): string {
    const path = join(this.dir(), 'config.yaml')
    writeFileSync(path, text)
    return path
  }

  defer(stop: () => Promise<void> | void): void {
    this.stops.push(stop)
  }

  async cleanup(): Promise<void> {
    for (const stop of this.stops.splice(0).reverse()) await stop()
  }
}

/** The x-ratelimit-* headers of a response (absent ones left out). */
export function rateLimitHeaders(res: Response): Record<string, string> {
  return Object.fromEntries([...res.headers].filter(([name]) => name.startsWith('x-ratelimit-')))
}

/** A reset duration as the gateway writes it: `1s`, `6m0s`, `250ms`, `59.5s`. */
export const DURATION = /^(\d+h)?(\d+m)?\d+(\.\d+)?(ms|s)$/
