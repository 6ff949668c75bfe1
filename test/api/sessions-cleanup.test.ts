// Removing idle sessions: POST /sessions/cleanup against sessions imported with old last_active times,
// its default age (the configured TTL), and the background sweeper, driven on a SessionService with an
// injected clock and fake timers so no test waits on the wall clock.
import { afterEach, expect, jest, test } from 'bun:test'
import { migrate } from '../../src/db/migrate'
import { openDatabase } from '../../src/db/open'
import { SessionRepository } from '../../src/sessions/session-repository'
import { SessionService } from '../../src/sessions/session-service'
import { silentLogger } from '../../src/telemetry/logger'
import { readJson } from '../helpers/http'
import { chatTurn, errorOf, Gateways, importable, minutesAgo } from '../helpers/sessions-api'

const gateways = new Gateways()
afterEach(async () => {
  jest.useRealTimers()
  await gateways.cleanup()
})

const ids = async (res: Response) => ((await readJson(res)).sessions as { id: string }[]).map((s) => s.id).sort()

test('cleanup removes only the sessions idle longer than max_age_minutes and lists them', async () => {
  const { api } = await gateways.start()
  await api.import([importable('stale-a', minutesAgo(120), 2), importable('stale-b', minutesAgo(61)), importable('recent', minutesAgo(30), 2)])
  await api.create({ session_id: 'brand-new' })
  const res = await api.cleanup('?max_age_minutes=60')
  expect(res.status).toBe(200)
  const body = await readJson(res)
  expect({ ...body, session_ids: [...body.session_ids].sort() }).toEqual({ removed: 2, session_ids: ['stale-a', 'stale-b'], max_age_minutes: 60 })
  expect(await ids(await api.list())).toEqual(['brand-new', 'recent'])
})

test('cleanup with nothing idle enough removes nothing', async () => {
  const { api } = await gateways.start()
  await api.import(importable('recent', minutesAgo(5)))
  expect(await readJson(await api.cleanup('?max_age_minutes=60'))).toEqual({ removed: 0, session_ids: [], max_age_minutes: 60 })
  expect(await ids(await api.list())).toEqual(['recent'])
})

test('a chat turn keeps an old session alive: cleanup goes by last activity, not creation', async () => {
  const { gw, api } = await gateways.start()
  await api.import(importable('revived', minutesAgo(600)))
  await chatTurn(gw, 'revived', 'still here')
  expect((await readJson(await api.cleanup('?max_age_minutes=60'))).removed).toBe(0)
})

test('cleanup without max_age_minutes uses the configured TTL (default 1440 minutes)', async () => {
  const { api } = await gateways.start()
  await api.import([importable('day-old', minutesAgo(1500)), importable('hours-old', minutesAgo(1000))])
  expect(await readJson(await api.cleanup())).toEqual({ removed: 1, session_ids: ['day-old'], max_age_minutes: 1440 })
})

test('SAGELLM_GATEWAY_SESSION_TTL_MINUTES sets the default age of cleanup', async () => {
  const { api } = await gateways.start([], { SAGELLM_GATEWAY_SESSION_TTL_MINUTES: '10' })
  await api.import([importable('old', minutesAgo(11)), importable('young', minutesAgo(5))])
  expect(await readJson(await api.cleanup())).toEqual({ removed: 1, session_ids: ['old'], max_age_minutes: 10 })
})

test('cleanup with a negative or non-numeric max_age_minutes is 400 naming it', async () => {
  const { api } = await gateways.start()
  await api.import(importable('survivor', minutesAgo(100)))
  for (const value of ['-1', 'soon']) {
    const res = await api.cleanup(`?max_age_minutes=${value}`)
    expect(res.status).toBe(400)
    expect({ value, param: (await errorOf(res)).param }).toEqual({ value, param: 'max_age_minutes' })
  }
  expect(await ids(await api.list())).toEqual(['survivor'])
})

/** A service on a fresh in-memory database whose clock the test moves. */
function serviceAt(start: string, ttlMinutes: number) {
  const db = openDatabase(':memory:')
  migrate(db)
  const clock = { now: new Date(start) }
  const service = new SessionService(new SessionRepository(db), { ttlMinutes, maxHistoryMessages: 20, log: silentLogger, now: () => clock.now })
  gateways.defer(() => {
    service.stop()
    db.close()
  })
  /** Moves the clock and the timers together, a minute at a time, so each sweep sees the time it fires at. */
  const advance = (minutes: number) => {
    for (let i = 0; i < minutes; i++) {
      clock.now = new Date(clock.now.getTime() + 60_000)
      jest.advanceTimersByTime(60_000)
    }
  }
  return { service, clock, advance }
}

test('the sweeper removes a session once it has been idle longer than the TTL, and keeps active ones', () => {
  jest.useFakeTimers()
  const { service, advance } = serviceAt('2025-01-01T00:00:00.000Z', 60)
  service.create({ session_id: 'idle' })
  service.startSweeper()
  advance(30)
  service.create({ session_id: 'later' })
  advance(31)
  expect(service.list().sessions.map((s) => s.id)).toEqual(['later'])
  advance(30)
  expect(service.list().sessions).toEqual([])
  expect(service.stats()).toEqual({ total_sessions: 0, total_messages: 0 })
})

test('the sweeper does not remove a session before the TTL has passed', () => {
  jest.useFakeTimers()
  const { service, advance } = serviceAt('2025-01-01T00:00:00.000Z', 60)
  service.create({ session_id: 'young' })
  service.startSweeper()
  advance(59)
  expect(service.list().sessions.map((s) => s.id)).toEqual(['young'])
})

test('a TTL of 0 never sweeps', () => {
  jest.useFakeTimers()
  const { service, advance } = serviceAt('2025-01-01T00:00:00.000Z', 0)
  service.create({ session_id: 'forever' })
  service.startSweeper()
  advance(10_000)
  expect(service.list().sessions.map((s) => s.id)).toEqual(['forever'])
})

test('stop() ends the sweeping', () => {
  jest.useFakeTimers()
  const { service, advance } = serviceAt('2025-01-01T00:00:00.000Z', 60)
  service.create({ session_id: 'kept' })
  service.startSweeper()
  service.stop()
  advance(600)
  expect(service.list().sessions.map((s) => s.id)).toEqual(['kept'])
})
