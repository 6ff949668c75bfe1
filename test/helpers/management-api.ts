// Driving the management API from tests: one call per route (with the admin key when given), engines
// and gateways stopped by the test file's cleanup list, a config file written to a temp dir, and an
// engine stream the test holds open so that "a request is in flight" is a state the test sets and ends.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startFakeEngine, type FakeEngine } from './fake-engine'
import { startGateway, type TestGateway } from './gateway'
import { readJson } from './http'

const PREFIX = '/v1/management'

export function managementClient(gw: TestGateway, adminKey?: string) {
  const send = (method: string, path: string, body?: unknown) =>
    gw.fetch(PREFIX + path, {
      method,
      headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...(adminKey ? { authorization: `Bearer ${adminKey}` } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
  // prune and DELETE are sent without a body, as curl -X DELETE sends them.
  return {
    register: (body: unknown) => send('POST', '/engines/register', body),
    patch: (id: string, body: unknown) => send('PATCH', `/engines/${encodeURIComponent(id)}`, body),
    remove: (id: string, query = '') => send('DELETE', `/engines/${encodeURIComponent(id)}${query}`),
    prune: () => send('POST', '/engines/prune'),
    engine: (id: string) => send('GET', `/engines/${encodeURIComponent(id)}`),
    engines: () => send('GET', '/engines'),
    status: () => send('GET', '/status'),
  }
}

export type ManagementClient = ReturnType<typeof managementClient>

/** Registers an engine and returns its engine dict; throws unless the answer is 200. */
export async function registered(api: ManagementClient, body: object): Promise<any> {
  const res = await api.register(body)
  if (res.status !== 200) throw new Error(`register answered ${res.status}: ${await res.text()}`)
  return readJson(res)
}

export const errorOf = async (res: Response) =>
  (await readJson(res)).error as { message: string; type: string; param: string | null; code: string | null }
export const stateOf = async (api: ManagementClient, id: string): Promise<string> => (await readJson(await api.engine(id))).state
export const listedIds = async (api: ManagementClient): Promise<string[]> =>
  ((await readJson(await api.engines())).engines as { engine_id: string }[]).map((e) => e.engine_id).sort()
export const modelIds = async (gw: TestGateway): Promise<string[]> =>
  ((await readJson(await gw.fetch('/v1/models'))).data as { id: string }[]).map((m) => m.id).sort()

/** Fake engines and gateways for management tests; each is stopped through the test file's cleanup list. */
export function managementFixtures(cleanup: (() => unknown)[]) {
  const fakeEngine = async (models = ['m']): Promise<FakeEngine> => {
    const engine = await startFakeEngine({ models })
    cleanup.push(() => engine.stop())
    return engine
  }
  const gateway = async (argv: string[] = [], adminKey?: string): Promise<{ gw: TestGateway; api: ManagementClient }> => {
    const started = await startGateway(argv)
    // Stopping twice is fine: a restart test stops it itself, and cleanup stops it again.
    let stopped: Promise<void> | undefined
    const gw: TestGateway = { ...started, stop: () => (stopped ??= started.stop()) }
    cleanup.push(() => gw.stop())
    return { gw, api: managementClient(gw, adminKey) }
  }
  /** A gateway configured by a YAML file; its health loop runs every 100 ms and fails an engine on one failed check. */
  const configuredGateway = (yaml = '', argv: string[] = []) => {
    const file = writeConfigFile(`health:\n  interval_seconds: 0.1\n  timeout_seconds: 1\n  failure_threshold: 1\n${yaml}`)
    cleanup.push(file.remove)
    return gateway(['--config', file.path, ...argv])
  }
  /** A gateway with one live fake engine serving `m`, registered through the API as e1. */
  const oneEngine = async (register: object = {}, argv: string[] = []) => {
    const engine = await fakeEngine()
    const { gw, api } = await gateway(argv)
    await registered(api, { engine_id: 'e1', url: engine.url, ...register })
    return { engine, gw, api }
  }
  return { fakeEngine, gateway, configuredGateway, oneEngine }
}

/** Writes a gateway config file in a fresh temp dir; `remove` deletes the dir. */
export function writeConfigFile(text: string, name = 'config.yaml'): { path: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'gw-mgmt-'))
  const path = join(dir, name)
  writeFileSync(path, text)
  return { path, remove: () => rmSync(dir, { recursive: true, force: true }) }
}

export interface HeldStream {
  /** A fresh SSE response: its first chunk at once, the rest and [DONE] after release(). */
  response(): Response
  release(): void
  readonly released: boolean
}

export function heldStream(model: string): HeldStream {
  const encoder = new TextEncoder()
  const chunk = (delta: object, finish: string | null) =>
    encoder.encode(`data: ${JSON.stringify({ id: 'held', object: 'chat.completion.chunk', created: 1, model, choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`)
  let open!: () => void
  const gate = new Promise<void>((resolve) => (open = resolve))
  const held = {
    released: false,
    release() {
      held.released = true
      open()
    },
    response() {
      const body = new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(chunk({ role: 'assistant', content: 'first ' }, null))
          void gate.then(() => {
            try {
              controller.enqueue(chunk({ content: 'last' }, 'stop'))
              controller.enqueue(encoder.encode('data: [DONE]\n\n'))
              controller.close()
            } catch {
              // the gateway cancelled the stream
            }
          })
        },
      })
      return new Response(body, { headers: { 'content-type': 'text/event-stream' } })
    },
  }
  return held
}

/** Makes every inference request to the engine answer with the held stream. */
export function holdInference(engine: FakeEngine, model = 'm'): HeldStream {
  const held = heldStream(model)
  engine.override = (req) => (req.method === 'POST' ? held.response() : undefined)
  return held
}

/** A streaming chat request read up to its first bytes; `rest()` reads it to the end. */
export async function openChatStream(gw: TestGateway, model: string): Promise<{ first: string; rest(): Promise<string> }> {
  const res = await gw.fetch('/v1/chat/completions', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model, stream: true, messages: [{ role: 'user', content: 'hi' }] }),
  })
  if (res.status !== 200 || !res.body) throw new Error(`stream answered HTTP ${res.status}: ${await res.text()}`)
  const reader = res.body.getReader()
  const decoder = new TextDecoder()
  const head = await reader.read()
  const first = head.done ? '' : decoder.decode(head.value, { stream: true })
  return {
    first,
    async rest() {
      let text = first
      for (let r = await reader.read(); !r.done; r = await reader.read()) text += decoder.decode(r.value, { stream: true })
      return text + decoder.decode()
    },
  }
}
