// The engine request capacity the start-up log reports: Bun's own default unless the variable is a
// positive integer; running from source never re-executes (only the compiled executable does); and the
// start-up warning about the cap is given only when an https:// engine (called through fetch) is configured.
import { afterEach, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { BUN_DEFAULT_FETCH_CAPACITY, FETCH_CAPACITY_ENV, fetchCapacity, isCompiled, raiseFetchCapacity } from '../src/fetch-capacity'
import { spawnGateway, type GatewayProcess } from './helpers/gateway-process'
import { waitFor } from './helpers/wait'

const cleanup: (() => unknown)[] = []
afterEach(async () => {
  for (const stop of cleanup.splice(0).reverse()) await stop()
})

test('without the variable, or with a value that is not a positive integer, Bun queues beyond 256', () => {
  expect(fetchCapacity({})).toBe(BUN_DEFAULT_FETCH_CAPACITY)
  for (const bad of ['', 'lots', '-5', '0', '1.5']) expect(fetchCapacity({ [FETCH_CAPACITY_ENV]: bad })).toBe(256)
})

test('a positive integer is the capacity', () => {
  expect(fetchCapacity({ [FETCH_CAPACITY_ENV]: '4096' })).toBe(4096)
})

test('from source, raising the capacity is left to the environment (no re-execution)', () => {
  expect(isCompiled()).toBe(false)
  const pid = process.pid
  raiseFetchCapacity()
  expect(process.pid).toBe(pid)
})

/** The start-up log of a gateway run from source without the variable, in front of `engine`. */
async function startupLines(engine: string): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), 'sagellm-capacity-'))
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }))
  const child: GatewayProcess = await spawnGateway(['--engine', engine, '--db', join(dir, 'gateway.db'), '--port', '0'], { cwd: dir, env: { [FETCH_CAPACITY_ENV]: undefined } })
  cleanup.push(() => child.kill('SIGKILL'))
  return child.lines
}

test('with only http:// engines, the capped fetch is not warned about (they go through the gateway\'s own client)', async () => {
  const lines = await startupLines('http://127.0.0.1:9/v1')
  expect(lines.some((l) => l.includes('"max_engine_requests":256'))).toBe(true)
  expect(lines.some((l) => l.includes('https:// engines can be in flight'))).toBe(false)
})

test('with an https:// engine, the start-up log warns that its requests are capped at 256', async () => {
  const lines = await startupLines('https://127.0.0.1:9/v1')
  await waitFor(() => lines.some((l) => l.includes('at most 256 requests to https:// engines can be in flight at once')), 5000, 'the warning')
})
