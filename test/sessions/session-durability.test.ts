// Sessions outlive the gateway process: a new gateway on the same SQLite file reads them back and
// continues them (history injected), after a clean stop and after SIGKILL; and a gateway killed with
// SIGKILL in the middle of a burst of concurrent turns leaves a database that passes integrity_check
// and holds every turn a client was told had completed (a 200, or a stream's [DONE]), whole.
import { Database } from 'bun:sqlite'
import { afterEach, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import OpenAI from 'openai'
import { startFakeEngine, type FakeEngine } from '../helpers/fake-engine'
import { startGateway } from '../helpers/gateway'
import { spawnGateway, waitForModel, type GatewayProcess } from '../helpers/gateway-process'
import { chatTurn, messagesOf, storedSession, type StoredSession } from '../helpers/sessions'
import { sseChunksOf, sseDataOf } from '../helpers/sse-client'
import { waitFor } from '../helpers/wait'

const cleanup: (() => unknown)[] = []
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step()
})

async function fakeEngine(chunkDelayMs = 0): Promise<FakeEngine> {
  const engine = await startFakeEngine({ models: ['m'], chunkDelayMs })
  cleanup.push(() => engine.stop())
  return engine
}

/** A fresh temp dir (removed after the test) and the database file path in it. */
function tempDb(): { dir: string; dbPath: string } {
  const dir = mkdtempSync(join(tmpdir(), 'gw-sessions-'))
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }))
  return { dir, dbPath: join(dir, 'sessions.db') }
}

async function childGateway(engine: FakeEngine, dir: string, dbPath: string): Promise<GatewayProcess> {
  const child = await spawnGateway(['--engine', engine.url, '--db', dbPath, '--port', '0'], { cwd: dir })
  cleanup.push(() => child.kill('SIGKILL'))
  await waitForModel(child.url, 'm')
  return child
}

/** Continues session `id` on a new in-process gateway over `dbPath`: the engine must get the stored history first. */
async function expectContinues(engine: FakeEngine, dbPath: string, id: string, history: string[], shownBefore?: StoredSession): Promise<void> {
  const gw = await startGateway(['--engine', engine.url, '--db', dbPath])
  cleanup.push(() => gw.stop())
  const stored = await storedSession(gw, id)
  if (shownBefore) expect(stored).toEqual(shownBefore)
  expect(stored.messages.map((m) => m.content)).toEqual(history)
  await chatTurn(gw, id, 'after the restart')
  expect(messagesOf(engine.inference().at(-1)!)).toEqual([
    ...history.map((content, i) => ({ role: i % 2 === 0 ? 'user' : 'assistant', content })),
    { role: 'user', content: 'after the restart' },
  ])
}

test('a new gateway on the same database file reads a session back and continues it', async () => {
  const engine = await fakeEngine()
  const { dbPath } = tempDb()
  const first = await startGateway(['--engine', engine.url, '--db', dbPath])
  const id = 'survives-restart'
  const r1 = (await chatTurn(first, id, 'before one')).content!
  const r2 = (await chatTurn(first, id, 'before two', { stream: true })).content!
  const before = await storedSession(first, id)
  await first.stop()

  // A new gateway on the file sees the session exactly as the first one showed it, and continues it.
  await expectContinues(engine, dbPath, id, ['before one', r1, 'before two', r2], before)
})

test('a session written by a gateway process killed with SIGKILL is read back and continued', async () => {
  const engine = await fakeEngine()
  const { dir, dbPath } = tempDb()
  const child = await childGateway(engine, dir, dbPath)
  const client = new OpenAI({ baseURL: `${child.url}/v1`, apiKey: 'sk-test', maxRetries: 0 })
  const id = 'survives-kill'
  const ask = (content: string) =>
    client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content }], session_id: id } as OpenAI.Chat.ChatCompletionCreateParamsNonStreaming)
  const r1 = (await ask('one')).choices[0]!.message.content!
  const r2 = (await ask('two')).choices[0]!.message.content!
  await child.kill('SIGKILL')
  expect(child.proc.signalCode).toBe('SIGKILL')
  await expectContinues(engine, dbPath, id, ['one', r1, 'two', r2])
}, 20_000)

const SESSIONS = 8
const TURNS = 15
/** SIGKILL once this many turns were acknowledged: well inside the burst of SESSIONS × TURNS. */
const KILL_AFTER = 40

interface AckedTurn {
  readonly sessionId: string
  readonly turn: number
  readonly text: string
  readonly reply: string
}

test('SIGKILL in the middle of a burst of concurrent turns: integrity_check ok, every acknowledged turn stored whole', async () => {
  // A slow engine, so streamed turns are in flight when the gateway dies.
  const engine = await fakeEngine(3)
  const { dir, dbPath } = tempDb()
  const child = await childGateway(engine, dir, dbPath)
  const client = new OpenAI({ baseURL: `${child.url}/v1`, apiKey: 'sk-test', maxRetries: 0, timeout: 10_000 })
  const acked: AckedTurn[] = []
  let killed = false

  /** One turn; its reply if the client was told it completed (200, or [DONE] with no error event), else undefined. */
  async function turn(sessionId: string, text: string, stream: boolean): Promise<string | undefined> {
    const body = { model: 'm', messages: [{ role: 'user' as const, content: text }], session_id: sessionId }
    if (!stream) {
      const res = await client.chat.completions.create(body as OpenAI.Chat.ChatCompletionCreateParamsNonStreaming)
      return res.choices[0]!.message.content!
    }
    // The wire itself: the SDK ends a stream quietly when the connection closes without [DONE].
    const res = await client.chat.completions.create({ ...body, stream: true } as OpenAI.Chat.ChatCompletionCreateParamsStreaming).asResponse()
    const wire = await res.text()
    const data = sseDataOf(wire)
    if (data.at(-1) !== '[DONE]' || wire.includes('"error"')) return undefined
    return sseChunksOf(wire)
      .map((c) => c.choices[0]?.delta?.content ?? '')
      .join('')
  }

  async function converse(s: number): Promise<void> {
    const sessionId = `burst-${s}`
    for (let k = 0; k < TURNS && !killed; k++) {
      const text = `session ${s} turn ${k}`
      const reply = await turn(sessionId, text, (s + k) % 2 === 0).catch(() => undefined)
      if (reply === undefined) return
      acked.push({ sessionId, turn: k, text, reply })
    }
  }

  const burst = Promise.all(Array.from({ length: SESSIONS }, (_, s) => converse(s)))
  await waitFor(() => acked.length >= KILL_AFTER, 20_000, `${KILL_AFTER} acknowledged turns`)
  await child.kill('SIGKILL')
  killed = true
  const ackedAtKill = acked.length
  await burst
  expect(child.proc.signalCode).toBe('SIGKILL')
  // Killed mid-burst: not every turn could complete.
  expect(acked.length).toBe(ackedAtKill)
  expect(acked.length).toBeLessThan(SESSIONS * TURNS)

  const db = new Database(dbPath)
  cleanup.push(() => db.close())
  expect(db.query('PRAGMA integrity_check').all()).toEqual([{ integrity_check: 'ok' }])
  const rows = db.query('SELECT session_id, seq, role, content FROM messages ORDER BY session_id, seq').all() as {
    session_id: string
    seq: number
    role: string
    content: string
  }[]
  for (let s = 0; s < SESSIONS; s++) {
    const sessionId = `burst-${s}`
    const stored = rows.filter((r) => r.session_id === sessionId).map((r) => ({ role: r.role, content: JSON.parse(r.content) as unknown }))
    const mine = acked.filter((a) => a.sessionId === sessionId)
    // Whole turns only (user + assistant in one transaction), turn 0, 1, 2… in order: every
    // acknowledged turn, plus at most the one committed just before the kill but not yet answered.
    expect(stored.length % 2).toBe(0)
    const turns = stored.length / 2
    expect(turns === mine.length || turns === mine.length + 1).toBe(true)
    for (let k = 0; k < turns; k++) {
      expect(stored[2 * k]).toEqual({ role: 'user', content: `session ${s} turn ${k}` })
      expect(stored[2 * k + 1]!.role).toBe('assistant')
    }
    for (const a of mine) expect(stored[2 * a.turn + 1]!.content).toBe(a.reply)
    // The counters the triggers keep moved in the same transactions.
    const counted = db.query('SELECT message_count FROM sessions WHERE id = ?').get(sessionId) as { message_count: number } | null
    expect(counted?.message_count ?? 0).toBe(stored.length)
  }
  const totals = db.query('SELECT total_messages FROM session_stats WHERE id = 1').get() as { total_messages: number }
  expect(totals.total_messages).toBe(rows.length)
}, 30_000)
