// The engine state machine, driven through scripted in-process engines (an EngineFetch function, no
// network): checks and passive failures, thresholds, draining, re-admission, removal, and which engines
// each operation may use.
import { describe, expect, test } from 'bun:test'
import type { EngineSpec } from '../../src/control-plane/engine'
import { EngineRegistry } from '../../src/control-plane/engine-registry'
import { EngineError } from '../../src/engines/engine-client'
import { ApiError } from '../../src/errors'
import { silentLogger } from '../../src/telemetry/logger'
import { captureLogs } from '../helpers/telemetry'

/** A scripted engine: `health` and `models` decide what its endpoints answer right now. */
function scripted(id: string, extra: Partial<EngineSpec> = {}) {
  const script = { health: 200, models: ['m'] as string[] | 'fail' }
  const spec: EngineSpec = {
    id,
    baseUrl: `http://${id}.test:8000/v1`,
    kind: 'llm',
    fetch: async (url) => {
      if (url.endsWith('/health')) return new Response('{}', { status: script.health })
      if (script.models === 'fail') throw Object.assign(new Error('refused'), { code: 'ECONNREFUSED' })
      return Response.json({ object: 'list', data: script.models.map((m) => ({ id: m, object: 'model' })) })
    },
    ...extra,
  }
  return { spec, script }
}

function registry(specs: EngineSpec[], failureThreshold = 2) {
  return new EngineRegistry(specs, { intervalMs: 60_000, timeoutMs: 1000, failureThreshold, log: silentLogger })
}

const refused = () => new EngineError('connect', 'connection refused')
const http500 = () => new EngineError('http', 'HTTP 500', 500)

describe('health checks', () => {
  test('a passing check makes a STARTING engine READY with its models', async () => {
    const a = scripted('a')
    const r = registry([a.spec])
    expect(r.get('a')!.state).toBe('STARTING')
    await r.checkAll()
    expect(r.get('a')!.state).toBe('READY')
    expect(r.candidates('m', 'chat').map((e) => e.id)).toEqual(['a'])
  })

  test('a declared model_id the engine does not list (or an empty list) is named in a warning when its models are discovered', async () => {
    const logs = captureLogs()
    const a = scripted('a', { modelId: 'qwen-7b' })
    a.script.models = ['Qwen/Qwen2.5-7B-Instruct']
    const b = scripted('b', { modelId: 'm' })
    const empty = scripted('empty', { modelId: 'm' })
    empty.script.models = []
    await new EngineRegistry([a.spec, b.spec, empty.spec], { intervalMs: 60_000, timeoutMs: 1000, failureThreshold: 2, log: logs.log }).checkAll()
    const warnings = logs.lines.filter((line) => line.level === 'warning')
    expect(warnings).toEqual([
      expect.objectContaining({ engine_id: 'a', model_id: 'qwen-7b', models: ['Qwen/Qwen2.5-7B-Instruct'] }),
      expect.objectContaining({ engine_id: 'empty', model_id: 'm', models: [] }),
    ])
  })

  test('an engine that failed before its first passing check still has its models, and a missing model_id, reported then', async () => {
    const logs = captureLogs()
    const a = scripted('a', { modelId: 'm' })
    a.script.models = 'fail'
    const r = new EngineRegistry([a.spec], { intervalMs: 60_000, timeoutMs: 1000, failureThreshold: 1, log: logs.log })
    await r.checkAll()
    expect(r.get('a')!.state).toBe('ERROR')
    a.script.models = []
    await r.checkAll()
    expect(logs.lines.filter((line) => line.msg === 'engine models discovered')).toEqual([expect.objectContaining({ engine_id: 'a', models: [] })])
    expect(logs.lines.filter((line) => line.model_id !== undefined)).toEqual([expect.objectContaining({ level: 'warning', engine_id: 'a', model_id: 'm' })])
  })

  test('failed checks take an engine to ERROR at the threshold, and a passing one brings it back', async () => {
    const a = scripted('a')
    const r = registry([a.spec], 2)
    await r.checkAll()
    a.script.models = 'fail'
    await r.checkAll()
    expect(r.get('a')!.state).toBe('READY')
    await r.checkAll()
    expect(r.get('a')!.state).toBe('ERROR')
    expect(r.candidates('m', 'chat')).toEqual([])
    a.script.models = ['m']
    await r.checkAll()
    expect(r.get('a')!.state).toBe('READY')
  })

  test('/health answering 5xx fails the check although /models works; a 404 does not', async () => {
    const a = scripted('a')
    const r = registry([a.spec], 1)
    a.script.health = 503
    await r.checkAll()
    expect(r.get('a')!.state).toBe('ERROR')
    expect(r.get('a')!.lastError).toContain('/health')
    a.script.health = 404
    await r.checkAll()
    expect(r.get('a')!.state).toBe('READY')
  })

  test('a model list change re-indexes the engine', async () => {
    const a = scripted('a')
    const r = registry([a.spec])
    await r.checkAll()
    a.script.models = ['n']
    await r.checkAll()
    expect(r.candidates('m', 'chat')).toEqual([])
    expect(r.listModels().map((c) => c.id)).toEqual(['n'])
  })
})

describe('passive failures', () => {
  test('an unreachable engine is ERROR after one failed request', async () => {
    const a = scripted('a')
    const r = registry([a.spec])
    await r.checkAll()
    r.recordRequestFailure(r.get('a')!, refused(), { unreachable: true })
    expect(r.get('a')!.state).toBe('ERROR')
    r.stop()
  })

  test('5xx failures count towards the threshold; a success resets the count', async () => {
    const a = scripted('a')
    const r = registry([a.spec], 2)
    await r.checkAll()
    const engine = r.get('a')!
    r.recordRequestFailure(engine, http500())
    r.recordSuccess(engine)
    r.recordRequestFailure(engine, http500())
    expect(engine.state).toBe('READY')
    r.recordRequestFailure(engine, http500())
    expect(engine.state).toBe('ERROR')
    r.stop()
  })
})

describe('draining and removal', () => {
  test('DRAINING takes no requests and becomes STOPPED when its last request ends', async () => {
    const a = scripted('a')
    const r = registry([a.spec])
    await r.checkAll()
    const engine = r.get('a')!
    engine.activeRequests = 1
    r.setDraining(engine)
    expect(engine.state).toBe('DRAINING')
    expect(r.candidates('m', 'chat')).toEqual([])
    const stopped = r.whenStopped(engine)
    engine.activeRequests = 0
    r.requestEnded(engine)
    await stopped
    expect(engine.state).toBe('STOPPED')
  })

  test('checks leave a draining engine alone; readmit checks it and makes it READY', async () => {
    const a = scripted('a')
    const r = registry([a.spec])
    await r.checkAll()
    const engine = r.get('a')!
    r.setDraining(engine)
    await r.checkAll()
    expect(engine.state).toBe('STOPPED')
    expect(await r.readmit(engine)).toBe('READY')
    a.script.models = 'fail'
    r.setDraining(engine)
    expect(await r.readmit(engine)).not.toBe('READY')
  })

  test('a removed engine is STOPPED and gone from the index', async () => {
    const a = scripted('a')
    const r = registry([a.spec])
    await r.checkAll()
    const engine = r.get('a')!
    r.remove(engine)
    expect(r.get('a')).toBeUndefined()
    expect(engine.state).toBe('STOPPED')
    expect(r.listModels()).toEqual([])
  })
})

describe('registration', () => {
  test('a duplicate id or URL is a 409 naming the existing engine', () => {
    const a = scripted('a')
    const r = registry([a.spec])
    const refusal = (spec: EngineSpec) => {
      try {
        r.add(spec)
      } catch (e) {
        return e as ApiError
      }
    }
    expect(refusal({ ...scripted('a').spec, baseUrl: 'http://other:1/v1' })?.httpStatus).toBe(409)
    const dupUrl = refusal({ ...a.spec, id: 'b' })
    expect(dupUrl?.httpStatus).toBe(409)
    expect(dupUrl?.message).toContain("'a'")
  })
})

describe('operations', () => {
  test('embedding engines serve only embeddings; anthropic-API engines serve no OpenAI operation', async () => {
    const llm = scripted('llm')
    const emb = scripted('emb', { kind: 'embedding' })
    const anth = scripted('anth', { api: 'anthropic' })
    const r = registry([llm.spec, emb.spec, anth.spec])
    await r.checkAll()
    expect(r.candidates('m', 'chat').map((e) => e.id)).toEqual(['llm'])
    expect(r.candidates('m', 'completions').map((e) => e.id)).toEqual(['llm'])
    expect(r.candidates('m', 'embeddings').map((e) => e.id)).toEqual(['llm', 'emb'])
  })

  test('a model served only by an embedding engine is a 400 invalid_request_error for chat that says so (retrying cannot help)', async () => {
    const emb = scripted('emb', { kind: 'embedding' })
    const r = registry([emb.spec])
    await r.checkAll()
    const error = await r.resolve('m', 'chat').then(
      () => undefined,
      (e: unknown) => e as ApiError,
    )
    expect(error?.httpStatus).toBe(400)
    expect(error).toMatchObject({ type: 'invalid_request_error', param: 'model' })
    expect(error?.message).toBe("The model 'm' does not serve chat: it is served only by emb (embedding engine)")
  })

  test('while an engine that does chat is unreachable (its models unknown), the embedding-only model is a 503 naming it', async () => {
    const emb = scripted('emb', { kind: 'embedding' })
    const llm = scripted('llm')
    llm.script.models = 'fail'
    const r = registry([emb.spec, llm.spec], 1)
    await r.checkAll()
    const error = await r.resolve('m', 'chat').then(() => undefined, (e: unknown) => e as ApiError)
    expect(error?.httpStatus).toBe(503)
    expect(error?.message).toContain('llm (connection refused)')
  })

  test('a down Anthropic-API engine keeps Messages requests for its model native (a 503), unless an OpenAI engine can take them', async () => {
    const anth = scripted('anth', { api: 'anthropic' })
    const r = registry([anth.spec], 1)
    await r.checkAll()
    expect(r.messagesGoNative('m')).toBe(true)
    anth.script.models = 'fail'
    await r.checkAll()
    expect(r.get('anth')!.state).toBe('ERROR')
    expect(r.messagesGoNative('m')).toBe(true)
    const error = await r.resolve('m', 'messages').then(() => undefined, (e: unknown) => e as ApiError)
    expect(error?.httpStatus).toBe(503)
    // An OpenAI engine that lists the model, even down, keeps the translated path (whose 503 names it).
    const down = scripted('down-llm')
    const unreachedNative = scripted('never', { api: 'anthropic' })
    unreachedNative.script.models = 'fail'
    const listed = registry([down.spec, unreachedNative.spec], 1)
    await listed.checkAll()
    down.script.models = 'fail'
    await listed.checkAll()
    expect(listed.get('down-llm')!.state).toBe('ERROR')
    expect(listed.messagesGoNative('m')).toBe(false)
    // A native engine drained before it was ever reached is leaving, not unreached: an unknown model is a 404.
    const drained = scripted('drained', { api: 'anthropic' })
    drained.script.models = 'fail'
    const leaving = registry([drained.spec], 1)
    await leaving.checkAll()
    leaving.setDraining(leaving.get('drained')!)
    expect(leaving.messagesGoNative('typo')).toBe(false)
    const notFound = await leaving.resolve('typo', 'messages').then(() => undefined, (e: unknown) => e as ApiError)
    expect(notFound?.httpStatus).toBe(404)
    // With an OpenAI engine READY for the model, the down native one gives way to the translated path.
    const llm = scripted('llm')
    const both = registry([anth.spec, llm.spec], 1)
    anth.script.models = ['m']
    await both.checkAll()
    expect(both.messagesGoNative('m')).toBe(true)
    anth.script.models = 'fail'
    await both.checkAll()
    expect(both.messagesGoNative('m')).toBe(false)
  })
})
