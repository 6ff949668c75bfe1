// Fleet tests' toolkit: several fake engines serving one model behind a gateway configured from a YAML
// file, a gate that holds engine requests open until the test lets them go, and readers for who served
// what (per-engine counts, the engine that received a marked request) and for the control-plane status.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import type OpenAI from 'openai'
import { createMockEngine } from '../../src/engines/mock-engine'
import { startFakeEngine, type FakeEngine, type FakeEngineOptions, type Override, type RecordedRequest } from './fake-engine'
import { startGateway, type TestGateway } from './gateway'
import { readJson } from './http'

/** What an engine entry of the config file may say besides its url (snake_case, as in the file). */
export interface EngineEntryOptions {
  weight?: number
  max_concurrency?: number
  engine_kind?: string
}

/** Starts engines and gateways, and stops each of them (gates first) when the test is over. */
export class Fleet {
  private readonly stops: (() => Promise<void> | void)[] = []

  /** One fake engine (serving model `m` unless told otherwise). */
  async engine(options: FakeEngineOptions = {}): Promise<FakeEngine> {
    const [engine] = await this.engines(1, options)
    return engine!
  }

  /** `n` fake engines; engine i is configured as engine_id `e{i}` by gateway(). */
  async engines(n: number, options: FakeEngineOptions = {}): Promise<FakeEngine[]> {
    const list = await Promise.all(Array.from({ length: n }, () => startFakeEngine({ models: ['m'], ...options })))
    for (const e of list) this.stops.push(() => e.stop())
    return list
  }

  /**
   * A gateway in front of `engines` from a YAML config file holding `settings` (routing, scheduling,
   * retries, circuit_breaker, health…) and one engine entry per engine, with `perEngine(i)` merged in.
   */
  async gateway(engines: readonly FakeEngine[], settings: Record<string, unknown> = {}, perEngine: (i: number) => EngineEntryOptions = () => ({})): Promise<TestGateway> {
    const entries = engines.map((e, i) => ({ url: e.url, engine_id: `e${i}`, ...perEngine(i) }))
    const file = writeYamlConfig({ ...settings, engines: entries })
    this.stops.push(() => rmSync(dirname(file), { recursive: true, force: true }))
    const gw = await startGateway(['--config', file])
    this.stops.push(() => gw.stop())
    return gw
  }

  /** A gate opened when the test ends, so no engine request stays held past it. */
  gate(): Gate {
    const gate = new Gate()
    this.stops.push(() => gate.open())
    return gate
  }

  async cleanup(): Promise<void> {
    for (const stop of this.stops.splice(0).reverse()) await stop()
  }
}

/** Writes a config file and returns its path. JSON is YAML (1.2), so the object is written as JSON. */
export function writeYamlConfig(config: Record<string, unknown>): string {
  const file = join(mkdtempSync(join(tmpdir(), 'gw-fleet-')), 'config.yaml')
  writeFileSync(file, `# written by test/helpers/fleet.ts\n${JSON.stringify(config, null, 2)}\n`)
  return file
}

/** Holds engine requests until released one by one (oldest first) or all at once. */
export class Gate {
  private readonly waiting: (() => void)[] = []
  private opened = false

  /** How many requests are held right now. */
  get held(): number {
    return this.waiting.length
  }

  /** Resolves when this request is let go, or when the gateway gave up on it. */
  wait(signal: AbortSignal): Promise<void> {
    if (this.opened || signal.aborted) return Promise.resolve()
    return new Promise((resolve) => {
      const release = () => {
        const i = this.waiting.indexOf(release)
        if (i >= 0) this.waiting.splice(i, 1)
        resolve()
      }
      this.waiting.push(release)
      signal.addEventListener('abort', release, { once: true })
    })
  }

  releaseOne(): void {
    this.waiting[0]?.()
  }

  /** Lets every held request go, and every later one pass. */
  open(): void {
    this.opened = true
    for (const release of [...this.waiting]) release()
  }
}

/**
 * Makes the engine hold the inference requests `which` selects at the gate, then answer them as the
 * mock engine would; every other request gets the fake engine's normal answer.
 */
export function holdAt(engine: FakeEngine, gate: Gate, which: (req: RecordedRequest) => boolean = () => true): void {
  engine.override = heldOverride(gate, which)
}

export function heldOverride(gate: Gate, which: (req: RecordedRequest) => boolean = () => true): Override {
  return (req, signal) => (req.method === 'POST' && which(req) ? gate.wait(signal).then(() => answerAsMock(req, signal)) : undefined)
}

/** The built-in mock engine's answer to a recorded request. */
export function answerAsMock(req: RecordedRequest, signal: AbortSignal): Promise<Response> {
  const mock = createMockEngine({ models: [String(req.body?.model)] })
  return mock.handle(new Request(`http://engine${req.path}`, { method: req.method, headers: req.headers, body: req.text || undefined, signal }))
}

/** The text of a recorded chat request's last message (where tests put their markers). */
export function lastMessageOf(req: RecordedRequest): string {
  const messages = req.body?.messages as { content?: unknown }[] | undefined
  const content = messages?.at(-1)?.content
  return typeof content === 'string' ? content : ''
}

/** Inference requests received, per engine. */
export function countsOf(engines: readonly FakeEngine[]): number[] {
  return engines.map((e) => e.inference().length)
}

/** Indexes of the engines that received a chat request whose last message is `marker`. */
export function receivedBy(engines: readonly FakeEngine[], marker: string): number[] {
  return engines.flatMap((e, i) => (e.inference().some((r) => lastMessageOf(r) === marker) ? [i] : []))
}

/** The one engine that received the marked request (throws when none or several did). */
export function servedBy(engines: readonly FakeEngine[], marker: string): number {
  const found = receivedBy(engines, marker)
  if (found.length !== 1) throw new Error(`request '${marker}' reached engines [${found.join(', ')}], expected exactly one`)
  return found[0]!
}

export interface ControlPlaneStatus {
  control_plane: {
    scheduling_policy: string
    routing_strategy: string
    routing_per_model: Record<string, string>
    pending_requests: number
    running_requests: number
    ready_instances: number
  }
  engines: { engine_id: string; state: string; circuit_breaker: string; active_requests: number; last_error: string | null; last_heartbeat: string | null }[]
}

export async function controlPlaneStatus(gw: TestGateway): Promise<ControlPlaneStatus> {
  const res = await gw.fetch('/v1/management/status')
  if (res.status !== 200) throw new Error(`GET /v1/management/status answered ${res.status}`)
  return (await readJson(res)) as ControlPlaneStatus
}

/** One engine as the status shows it. */
export async function engineStatus(gw: TestGateway, engineId: string): Promise<ControlPlaneStatus['engines'][number]> {
  const engine = (await controlPlaneStatus(gw)).engines.find((e) => e.engine_id === engineId)
  if (!engine) throw new Error(`no engine '${engineId}' in the status`)
  return engine
}

export async function pendingRequests(gw: TestGateway): Promise<number> {
  return (await controlPlaneStatus(gw)).control_plane.pending_requests
}

/** The model ids GET /v1/models lists, sorted. */
export async function listedModels(gw: TestGateway): Promise<string[]> {
  const body = (await readJson(await gw.fetch('/v1/models'))) as { data: { id: string }[] }
  return body.data.map((m) => m.id).sort()
}

export interface AskOptions {
  model?: string
  /** Extra request headers (x-session-affinity, x-sagellm-priority…). */
  headers?: Record<string, string>
  /** Extra body fields (session_id, user, messages before the marked one…). */
  body?: Record<string, unknown>
  /** Messages put before the marked user message (a system prompt, say). */
  before?: { role: 'system' | 'user' | 'assistant'; content: string }[]
}

/** A non-streaming chat completion through the official SDK whose last user message is `marker`. */
export function ask(gw: TestGateway, marker: string, { model = 'm', headers, body = {}, before = [] }: AskOptions = {}): Promise<OpenAI.Chat.ChatCompletion> {
  const params = { model, messages: [...before, { role: 'user', content: marker }], ...body } as OpenAI.Chat.ChatCompletionCreateParamsNonStreaming
  return gw.openai().chat.completions.create(params, { headers })
}

export type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown }

/** A promise's outcome without rejecting, so a request fired and awaited later never rejects unhandled. */
export function settle<T>(promise: Promise<T>): Promise<Settled<T>> {
  return promise.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  )
}

/** A request sent and not awaited: its outcome, and whether it has one yet. */
export interface Fired<T> {
  readonly result: Promise<Settled<T>>
  readonly done: boolean
}

export function fire<T>(promise: Promise<T>): Fired<T> {
  const fired = { done: false, result: settle(promise) }
  void fired.result.then(() => (fired.done = true))
  return fired
}
