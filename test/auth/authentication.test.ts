// Who may call the gateway: open mode without keys; static keys from --api-key, the environment and
// the config file; Bearer and x-api-key; 401 invalid_api_key in OpenAI's envelope (Anthropic's on
// /v1/messages) through raw fetch and both official SDKs; the routes that stay open; the admin key as
// a credential; and short keys refused at start-up.
import { AuthenticationError as AnthropicAuthError } from '@anthropic-ai/sdk'
import { afterEach, expect, test } from 'bun:test'
import type OpenAI from 'openai'
import { AuthenticationError } from 'openai'
import { ConfigError, loadConfig } from '../../src/config'
import { expectAnthropicError, rejectionOf } from '../helpers/anthropic'
import { readJson } from '../helpers/http'
import { ADMIN_KEY, AuthFixtures, anthropicAs, chatAs, expectOpenAIError, openaiAs, send, userSays } from '../helpers/auth'

const fixtures = new AuthFixtures()
afterEach(() => fixtures.cleanup())

const KEY_A = 'static-key-aaaaaaaaaaaa'
const KEY_B = 'static-key-bbbbbbbbbbbb'
const WRONG = 'wrong-key-000000000000'

const ask = (client: OpenAI) => client.chat.completions.create({ model: 'mock', messages: [{ role: 'user', content: 'hi' }] })
const keyed = (argv: string[] = [], env: Record<string, string> = {}) => fixtures.gateway(['--mock', '--api-key', KEY_A, ...argv], env)

test('open mode: with no key configured, a chat request without any credential is answered', async () => {
  const gw = await fixtures.gateway(['--mock'])
  const res = await chatAs(gw, undefined)
  expect(res.status).toBe(200)
  expect((await readJson(res)).choices[0].message.content.length).toBeGreaterThan(0)
})

test('an admin key alone does not turn auth on for inference', async () => {
  const gw = await fixtures.gateway(['--mock', '--admin-key', ADMIN_KEY])
  expect((await chatAs(gw, undefined)).status).toBe(200)
})

test('every --api-key given is accepted by the OpenAI SDK', async () => {
  const gw = await keyed(['--api-key', KEY_B])
  for (const key of [KEY_A, KEY_B]) expect((await ask(openaiAs(gw, key))).choices).toHaveLength(1)
})

test('keys from SAGELLM_GATEWAY_API_KEYS (comma-separated) are accepted, and others refused', async () => {
  const gw = await fixtures.gateway(['--mock'], { SAGELLM_GATEWAY_API_KEYS: `${KEY_A},${KEY_B}` })
  for (const key of [KEY_A, KEY_B]) expect((await chatAs(gw, key)).status).toBe(200)
  expect((await chatAs(gw, WRONG)).status).toBe(401)
})

test('keys from the config file auth.api_keys are accepted, and others refused', async () => {
  const config = fixtures.configFile(`auth:\n  api_keys:\n    - ${KEY_A}\n    - ${KEY_B}\n`)
  const gw = await fixtures.gateway(['--mock', '--config', config])
  for (const key of [KEY_A, KEY_B]) expect((await chatAs(gw, key)).status).toBe(200)
  expect((await chatAs(gw, undefined)).status).toBe(401)
})

test('a key in x-api-key is accepted like a Bearer key', async () => {
  const gw = await keyed()
  expect((await send(gw, 'POST', '/v1/chat/completions', undefined, { model: 'mock', messages: userSays() }, { 'x-api-key': KEY_A })).status).toBe(200)
})

test('a wrong Bearer key beside a valid x-api-key is accepted: the first valid one wins', async () => {
  const gw = await keyed()
  const res = await send(gw, 'POST', '/v1/chat/completions', WRONG, { model: 'mock', messages: userSays() }, { 'x-api-key': KEY_A })
  expect(res.status).toBe(200)
})

test('no credential with auth on is 401 invalid_api_key authentication_error in the OpenAI envelope', async () => {
  const gw = await keyed()
  await expectOpenAIError(await chatAs(gw, undefined), 401, { type: 'authentication_error', code: 'invalid_api_key' })
})

test('a wrong key is 401 invalid_api_key on the wire', async () => {
  const gw = await keyed()
  await expectOpenAIError(await chatAs(gw, WRONG), 401, { type: 'authentication_error', code: 'invalid_api_key' })
})

test('a wrong key reaches OpenAI SDK users as AuthenticationError 401 invalid_api_key', async () => {
  const gw = await keyed()
  const error = await rejectionOf(ask(openaiAs(gw, WRONG)))
  expect(error).toBeInstanceOf(AuthenticationError)
  expect(error).toMatchObject({ status: 401, code: 'invalid_api_key', type: 'authentication_error' })
})

test('a wrong key on /v1/completions and /v1/embeddings is refused 401 too', async () => {
  const gw = await keyed()
  await expectOpenAIError(await send(gw, 'POST', '/v1/completions', WRONG, { model: 'mock', prompt: 'hi' }), 401, { code: 'invalid_api_key' })
  await expectOpenAIError(await send(gw, 'POST', '/v1/embeddings', WRONG, { model: 'mock', input: 'hi' }), 401, { code: 'invalid_api_key' })
})

test('GET /v1/models needs a key when auth is on', async () => {
  const gw = await keyed()
  await expectOpenAIError(await send(gw, 'GET', '/v1/models', undefined), 401, { code: 'invalid_api_key' })
  expect((await send(gw, 'GET', '/v1/models', KEY_A)).status).toBe(200)
})

test('a wrong key reaches Anthropic SDK users on /v1/messages as AuthenticationError authentication_error', async () => {
  const gw = await keyed()
  const error = await rejectionOf(anthropicAs(gw, WRONG).messages.create({ model: 'mock', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] }))
  expect(error).toBeInstanceOf(AnthropicAuthError)
  expect(error).toMatchObject({ status: 401, type: 'authentication_error' })
})

test("a wrong key on /v1/messages is a 401 in Anthropic's envelope on the wire", async () => {
  const gw = await keyed()
  const res = await send(gw, 'POST', '/v1/messages', undefined, { model: 'mock', max_tokens: 16, messages: userSays() }, { 'x-api-key': WRONG })
  await expectAnthropicError(res, 401, 'authentication_error')
})

test('the Anthropic SDK with a valid key gets its message', async () => {
  const gw = await keyed()
  const message = await anthropicAs(gw, KEY_A).messages.create({ model: 'mock', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] })
  expect(message.type).toBe('message')
})

test('/health is open with auth on', async () => {
  const gw = await keyed()
  expect((await send(gw, 'GET', '/health', undefined)).status).toBe(200)
})

test('/metrics needs a key with auth on, and answers with one', async () => {
  const gw = await keyed()
  await expectOpenAIError(await send(gw, 'GET', '/metrics', undefined), 401, { code: 'invalid_api_key' })
  expect((await send(gw, 'GET', '/metrics', WRONG)).status).toBe(401)
  expect((await send(gw, 'GET', '/metrics', KEY_A)).status).toBe(200)
})

test('/metrics is open with auth.metrics_public: true', async () => {
  const config = fixtures.configFile('auth:\n  metrics_public: true\n')
  const gw = await keyed(['--config', config])
  expect((await send(gw, 'GET', '/metrics', undefined)).status).toBe(200)
})

test('/swagger and /swagger/json are open by default with auth on', async () => {
  const gw = await keyed()
  expect((await send(gw, 'GET', '/swagger', undefined)).status).toBe(200)
  expect((await send(gw, 'GET', '/swagger/json', undefined)).status).toBe(200)
})

test('/swagger and /swagger/json need a key with auth.docs_public: false', async () => {
  const config = fixtures.configFile('auth:\n  docs_public: false\n')
  const gw = await keyed(['--config', config])
  expect((await send(gw, 'GET', '/swagger', undefined)).status).toBe(401)
  expect((await send(gw, 'GET', '/swagger/json', undefined)).status).toBe(401)
  expect((await send(gw, 'GET', '/swagger/json', KEY_A)).status).toBe(200)
})

test('the admin key works as an API key for inference when static keys are configured', async () => {
  const gw = await keyed(['--admin-key', ADMIN_KEY])
  expect((await ask(openaiAs(gw, ADMIN_KEY))).choices).toHaveLength(1)
  expect((await send(gw, 'POST', '/v1/chat/completions', undefined, { model: 'mock', messages: userSays() }, { 'x-api-key': ADMIN_KEY })).status).toBe(200)
})

test('a valid non-admin key on the keys endpoint is 403 permission_denied', async () => {
  const gw = await keyed(['--admin-key', ADMIN_KEY])
  await expectOpenAIError(await send(gw, 'GET', '/v1/management/keys', KEY_A), 403, { code: 'permission_denied' })
})

test('engine reads of the management API need a valid key when auth is on', async () => {
  const gw = await keyed(['--admin-key', ADMIN_KEY])
  for (const path of ['/v1/management', '/v1/management/status', '/v1/management/engines']) {
    expect({ path, status: (await send(gw, 'GET', path, undefined)).status }).toEqual({ path, status: 401 })
    expect({ path, status: (await send(gw, 'GET', path, KEY_A)).status }).toEqual({ path, status: 200 })
  }
})

/** The ConfigError message loadConfig throws for these sources; fails when it does not throw one. */
function configError(argv: string[], env: Record<string, string> = {}, files: Record<string, string> = {}): string {
  try {
    loadConfig({ argv, env, readFile: (path) => files[path] ?? '' })
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError)
    return (e as Error).message
  }
  throw new Error('expected a ConfigError')
}

test('a static key shorter than 16 characters from --api-key is a start-up config error', () => {
  expect(configError(['--api-key', 'short-key-15chr'])).toContain('16')
})

test('a static key shorter than 16 characters from SAGELLM_GATEWAY_API_KEYS is a start-up config error', () => {
  expect(configError([], { SAGELLM_GATEWAY_API_KEYS: `${KEY_A},tiny` })).toContain('16')
})

test('a static key shorter than 16 characters in auth.api_keys is a start-up config error', () => {
  expect(configError(['--config', '/etc/gw.yaml'], {}, { '/etc/gw.yaml': 'auth:\n  api_keys:\n    - tiny\n' })).toContain('16')
})

test('a 16-character static key is accepted', () => {
  const cli = loadConfig({ argv: ['--api-key', 'exactly-16-chars'], env: {} })
  expect(cli.action).toBe('run')
})
