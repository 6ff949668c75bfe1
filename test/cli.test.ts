// The gateway as a process (`bun src/main.ts ...`): --version/--help, exit code 2 with one stderr line
// for every configuration problem, configuration precedence seen from a running gateway, and a
// graceful SIGTERM that refuses new connections while an open stream finishes.
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'bun:test'
import type { Subprocess } from 'bun'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pkg from '../package.json' with { type: 'json' }
import { ENV } from '../src/config'
import { collectLines } from './helpers/gateway-process'
import { waitFor } from './helpers/wait'

const MAIN = join(import.meta.dir, '..', 'src', 'main.ts')
const EXAMPLE_CONFIG = join(import.meta.dir, '..', 'deploy', 'config.example.yaml')
/** Backstop for any child: Bun kills it after this long even if a test forgets to. */
const CHILD_TIMEOUT_MS = 30_000

let workDir: string
beforeAll(() => {
  // Children run here, so a default ./sagellm-gateway.db never lands in the repository.
  workDir = mkdtempSync(join(tmpdir(), 'sagellm-cli-'))
})
afterAll(() => rmSync(workDir, { recursive: true, force: true }))

const running = new Set<Subprocess>()
afterEach(async () => {
  for (const proc of running) {
    proc.kill('SIGKILL')
    await Promise.race([proc.exited, Bun.sleep(5000)])
  }
  running.clear()
})

/** The parent's environment minus every SAGELLM_* variable, plus the given ones. */
function childEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {}
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('SAGELLM_')) env[k] = v
  return { ...env, ...extra }
}

function spawnGateway(args: string[], env: Record<string, string> = {}) {
  const proc = Bun.spawn([process.execPath, MAIN, ...args], {
    cwd: workDir,
    env: childEnv(env),
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
    timeout: CHILD_TIMEOUT_MS,
    killSignal: 'SIGKILL',
  })
  running.add(proc)
  return proc
}

/** Runs the gateway to completion (for options that exit right away). */
async function runToExit(args: string[], env: Record<string, string> = {}) {
  const proc = spawnGateway(args, env)
  const [stdout, stderr, exitCode] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited])
  running.delete(proc)
  return { stdout, stderr, exitCode }
}

/** Collects a child's stdout as lines as they arrive, so tests can wait for a given log line. */
class LineReader {
  readonly lines: string[]
  constructor(stream: ReadableStream<Uint8Array>) {
    this.lines = collectLines(stream)
  }

  /** The first JSON log line whose msg is `msg`, waiting for it with a bound. */
  async logLine(msg: string, timeoutMs = 10_000): Promise<Record<string, any>> {
    let found: Record<string, any> | undefined
    await waitFor(
      () => {
        found = this.lines.map(parseJson).find((l) => l?.msg === msg)
        return found !== undefined
      },
      timeoutMs,
      `log line "${msg}" (got: ${this.lines.join('\n')})`,
    )
    return found!
  }
}

function parseJson(line: string): Record<string, any> | undefined {
  try {
    return JSON.parse(line)
  } catch {
    return undefined
  }
}

/** Starts a gateway that keeps running and waits for its `listening` log line. */
async function startGateway(args: string[], env: Record<string, string> = {}) {
  const proc = spawnGateway(args, env)
  const stdout = new LineReader(proc.stdout)
  const stderrText = new Response(proc.stderr).text()
  const early = proc.exited.then(async (code) => {
    throw new Error(`gateway exited with ${code} before listening: ${await stderrText}`)
  })
  early.catch(() => {})
  const listening = await Promise.race([stdout.logLine('sagellm-gateway listening'), early])
  return { proc, stdout, url: String(listening.url), listening }
}

/** A port nothing listens on right now. */
function freePort(): number {
  const server = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: () => new Response() })
  const port = server.port!
  server.stop(true)
  return port
}

/** Resolves true once a fresh TCP connection to the port is refused. */
async function connectionRefused(port: number): Promise<boolean> {
  try {
    const socket = await Bun.connect({ hostname: '127.0.0.1', port, socket: { data() {} } })
    socket.end()
    return false
  } catch {
    return true
  }
}

function tempFile(name: string, text: string): string {
  const path = join(workDir, name)
  writeFileSync(path, text)
  return path
}

const LOOPBACK = ['--host', '127.0.0.1', '--db', ':memory:']

describe('--version and --help', () => {
  test('--version prints the package.json version and exits 0', async () => {
    const { stdout, stderr, exitCode } = await runToExit(['--version'])
    expect(exitCode).toBe(0)
    expect(stdout).toBe(`sagellm-gateway ${pkg.version}\n`)
    expect(stderr).toBe('')
  })

  test('--help exits 0 and lists every flag and environment variable', async () => {
    const { stdout, exitCode } = await runToExit(['--help'])
    expect(exitCode).toBe(0)
    const flags = ['--host', '--port', '--config', '--db', '--engine', '--mock', '--mock-model', '--mock-chunk-delay-ms', '--log-level', '--request-timeout', '--max-body-bytes', '--drain-timeout', '--control-plane', '--version', '-v', '--help', '-h']
    for (const flag of flags) expect(stdout).toMatch(new RegExp(`(^|[\\s,])${flag}\\b`, 'm'))
    for (const name of Object.values(ENV)) expect(stdout).toContain(name)
  })
})

describe('configuration problems exit 2 with one stderr line naming the problem', () => {
  const cases: [string, () => { args: string[]; env?: Record<string, string> }, string[]][] = [
    ['unknown flag', () => ({ args: ['--bogus'] }), ['--bogus']],
    ['non-numeric --port', () => ({ args: ['--port', 'abc'] }), ['--port', "'abc'"]],
    ['--port out of range', () => ({ args: ['--port', '70000'] }), ['--port', "'70000'"]],
    ['missing config file', () => ({ args: ['--config', '/nonexistent.yaml'] }), ['/nonexistent.yaml', 'no such file']],
    ['config file with invalid YAML', () => ({ args: ['--config', tempFile('invalid.yaml', 'port: [1,\n')] }), ['invalid.yaml', 'not valid YAML']],
    ['config file with an unknown key', () => ({ args: ['--config', tempFile('unknown.yaml', 'hots: 127.0.0.1\n')] }), ['hots', 'unknown key']],
    ['config file with a wrong type', () => ({ args: ['--config', tempFile('type.yaml', 'port: eighty\n')] }), ['type.yaml', 'port', 'integer']],
    ['--engine that is not a URL', () => ({ args: ['--engine', 'not-a-url'] }), ['--engine', "'not-a-url'"]],
    ['--engine with another scheme', () => ({ args: ['--engine', 'ftp://x'] }), ['--engine', "'ftp://x'", 'http']],
    ['unknown --log-level', () => ({ args: ['--log-level', 'loud'] }), ['--log-level', "'loud'"]],
    ['SAGELLM_ENGINE_HOST without SAGELLM_ENGINE_PORT', () => ({ args: [], env: { SAGELLM_ENGINE_HOST: '10.0.0.5' } }), ['SAGELLM_ENGINE_HOST', 'SAGELLM_ENGINE_PORT']],
  ]

  for (const [name, make, mentions] of cases) {
    test(name, async () => {
      const { args, env } = make()
      const { stdout, stderr, exitCode } = await runToExit([...args, '--db', ':memory:'], env)
      expect(exitCode).toBe(2)
      expect(stdout).toBe('')
      expect(stderr.endsWith('\n')).toBe(true)
      const lines = stderr.trimEnd().split('\n')
      expect(lines).toHaveLength(1)
      expect(lines[0]).toStartWith('sagellm-gateway: ')
      for (const text of mentions) expect(lines[0]).toContain(text)
    })
  }
})

describe('a running gateway', () => {
  test('port precedence: flag > env > file', async () => {
    const [filePort, envPort, flagPort] = [freePort(), freePort(), freePort()]
    const config = tempFile('ports.yaml', `port: ${filePort}\nhost: 127.0.0.1\n`)
    const env = { [ENV.port]: String(envPort), [ENV.db]: ':memory:' }
    const portOf = async (args: string[], envVars: Record<string, string>) => {
      const gw = await startGateway(['--config', config, ...args], envVars)
      gw.proc.kill('SIGKILL')
      return Number(new URL(gw.url).port)
    }
    expect(await portOf([], { [ENV.db]: ':memory:' })).toBe(filePort)
    expect(await portOf([], env)).toBe(envPort)
    expect(await portOf(['--port', String(flagPort)], env)).toBe(flagPort)
  })

  test('SAGELLM_MOCK_MODE=1 enables the mock engine', async () => {
    const gw = await startGateway([...LOOPBACK, '--port', '0'], { SAGELLM_MOCK_MODE: '1' })
    expect(gw.listening.engines).toEqual([expect.objectContaining({ engine_id: 'mock' })])
    await gw.stdout.logLine('engine models discovered')
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'mock', messages: [{ role: 'user', content: 'ping' }] }),
    })
    expect(res.status).toBe(200)
    const body = (await res.json()) as { object: string; choices: { message: { content: string } }[] }
    expect(body.object).toBe('chat.completion')
    expect(body.choices[0]!.message.content).toContain('Mock reply from mock')
  })

  test('a second gateway on a port already listened on exits 2 saying so, and does not share the port', async () => {
    const first = await startGateway([...LOOPBACK, '--port', '0'])
    const port = new URL(first.url).port
    const { stdout, stderr, exitCode } = await runToExit([...LOOPBACK, '--port', port])
    expect(exitCode).toBe(2)
    expect(stderr).toContain(`cannot listen on 127.0.0.1:${port}`)
    expect(stdout).not.toContain('sagellm-gateway listening')
  })

  test("the original's session-store variables are named in a start-up warning, not silently ignored", async () => {
    const gw = await startGateway([...LOOPBACK, '--port', '0', '--db', ':memory:'], { SAGELLM_GATEWAY_SESSION_BACKEND: 'redis', SAGELLM_GATEWAY_SESSION_REDIS_URL: 'redis://10.0.0.9:6379' })
    const warning = gw.stdout.lines.map(parseJson).find((line) => line?.msg?.includes('session-store variables are not read'))
    expect(warning).toMatchObject({ level: 'warning', variables: ['SAGELLM_GATEWAY_SESSION_BACKEND', 'SAGELLM_GATEWAY_SESSION_REDIS_URL'], database: ':memory:' })
    expect(JSON.stringify(warning)).not.toContain('10.0.0.9')
  })

  test('deploy/config.example.yaml starts a gateway with its example engines', async () => {
    const gw = await startGateway(['--config', EXAMPLE_CONFIG, ...LOOPBACK, '--port', '0'])
    expect(gw.listening.engines.map((e: { url: string }) => e.url)).toEqual(['http://127.0.0.1:8000/v1', 'http://127.0.0.1:8001/v1'])
  })

  test('SIGTERM refuses new connections, lets an open stream finish with [DONE], then exits 0', async () => {
    const gw = await startGateway(['--mock', '--mock-chunk-delay-ms', '50', '--drain-timeout', '10', ...LOOPBACK, '--port', '0'])
    await gw.stdout.logLine('engine models discovered')
    const port = Number(new URL(gw.url).port)
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'mock', stream: true, max_tokens: 20, messages: [{ role: 'user', content: 'tell me a long story please' }] }),
    })
    expect(res.status).toBe(200)
    const reader = res.body!.getReader()
    const decoder = new TextDecoder()
    const first = await reader.read()
    expect(first.done).toBe(false)
    const beforeSignal = decoder.decode(first.value, { stream: true })

    gw.proc.kill('SIGTERM')
    await gw.stdout.logLine('shutting down: draining in-flight requests')
    await waitFor(() => connectionRefused(port), 5000, 'new connections to be refused')

    let afterSignal = ''
    let cut: unknown
    try {
      for (;;) {
        const { done, value } = await reader.read()
        if (done) break
        afterSignal += decoder.decode(value, { stream: true })
      }
    } catch (e) {
      cut = e
    }
    expect(cut === undefined ? 'stream completed' : `stream cut after SIGTERM (${String(cut)}); its last bytes: ${JSON.stringify(afterSignal.slice(-80))}`).toBe('stream completed')
    expect(afterSignal).toContain('"chat.completion.chunk"')
    expect((beforeSignal + afterSignal).trimEnd()).toEndWith('data: [DONE]')

    const exitCode = await Promise.race([gw.proc.exited, Bun.sleep(10_000).then(() => 'still running')])
    expect(exitCode).toBe(0)
    expect(await gw.stdout.logLine('stopped')).toMatchObject({ drained: true })
  })
})
