// What a chat turn on a session costs the gateway (target: well under a millisecond at 1,000 stored
// messages): taking the session's lock and reading its last 100 messages, then storing the turn (the
// request's message and the reply, one immediate transaction on a WAL file database), plus the
// per-chunk cost of following a streamed reply. Run with `bun bench/sessions.bench.ts`.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { migrate } from '../src/db/migrate'
import { openDatabase } from '../src/db/open'
import { SessionRepository } from '../src/sessions/session-repository'
import { SessionService } from '../src/sessions/session-service'
import { silentLogger } from '../src/telemetry/logger'

const STORED = 1000
const TURNS_PER_RUN = 500
const RUNS = 7
const WARMUP = 200
const CHUNKS = 200

const dir = mkdtempSync(join(tmpdir(), 'sagellm-bench-sessions-'))
const db = openDatabase(join(dir, 'bench.db'))
migrate(db)
const sessions = new SessionService(new SessionRepository(db), { ttlMinutes: 0, maxHistoryMessages: 100, log: silentLogger })
const signal = new AbortController().signal
const words = 'the quick brown fox jumps over the lazy dog '.repeat(8)

// Each run works on its own session that already holds STORED messages (about 350 characters each).
function seed(id: string): void {
  const messages = Array.from({ length: STORED }, (_, i) => ({
    id: `${id}-${i}`,
    role: i % 2 ? 'assistant' : 'user',
    content: `${i}: ${words}`,
    timestamp: new Date(Date.now() - (STORED - i) * 1000).toISOString(),
  }))
  sessions.import({ id, messages }, true)
}

const reply = JSON.stringify({
  id: 'chatcmpl-1',
  object: 'chat.completion',
  model: 'm',
  choices: [{ index: 0, message: { role: 'assistant', content: words }, finish_reason: 'stop' }],
  usage: { prompt_tokens: 4000, completion_tokens: 80, total_tokens: 4080 },
})

async function turn(id: string, i: number): Promise<void> {
  const t = await sessions.beginTurn(id, [{ role: 'user', content: `question ${i}: ${words}` }], signal)
  t.completeFromBody(reply, 'engine-0', `req-${i}`)
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!

const turnUs: number[] = []
for (let run = 0; run < RUNS; run++) {
  const id = `bench-${run}`
  seed(id)
  for (let i = 0; i < WARMUP && run === 0; i++) await turn(id, i)
  const start = Bun.nanoseconds()
  for (let i = 0; i < TURNS_PER_RUN; i++) await turn(id, i)
  turnUs.push((Bun.nanoseconds() - start) / TURNS_PER_RUN / 1000)
}

// Following a stream: the per-chunk parse that accumulates the reply.
const chunk = JSON.stringify({ id: 'c', object: 'chat.completion.chunk', model: 'm', choices: [{ index: 0, delta: { content: ' word' }, finish_reason: null }] })
const chunkNs: number[] = []
for (let run = 0; run < RUNS; run++) {
  const t = await sessions.beginTurn('stream-bench', [{ role: 'user', content: 'hi' }], signal)
  const start = Bun.nanoseconds()
  for (let i = 0; i < CHUNKS * 50; i++) t.observe(chunk)
  chunkNs.push((Bun.nanoseconds() - start) / (CHUNKS * 50))
  t.abandon()
}

const stats = sessions.stats()
console.log(`session turn cost, bun ${Bun.version}, ${RUNS} runs × ${TURNS_PER_RUN} turns, WAL file database`)
console.log(`stored messages per session at the start of a run: ${STORED}; history sent: last 100; total messages at the end: ${stats.total_messages}\n`)
console.log('| what | median | min | max |')
console.log('|---|---:|---:|---:|')
console.log(`| one turn: lock + read last 100 of ${STORED}+ messages + store 2 messages (µs) | ${median(turnUs).toFixed(1)} | ${Math.min(...turnUs).toFixed(1)} | ${Math.max(...turnUs).toFixed(1)} |`)
console.log(`| following a stream: one chunk observed (ns) | ${median(chunkNs).toFixed(0)} | ${Math.min(...chunkNs).toFixed(0)} | ${Math.max(...chunkNs).toFixed(0)} |`)
db.close()
rmSync(dir, { recursive: true, force: true })
