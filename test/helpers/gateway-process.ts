// The gateway as a child process (`bun src/main.ts …`), for tests that must kill it for real: spawned
// with a bound on its life, its stdout collected line by line as it arrives, its URL read from the
// JSON 'sagellm-gateway listening' log line (so --port 0 works), and its engines ready before use.
import type { Subprocess } from 'bun'
import { join } from 'node:path'
import { waitFor } from './wait'

const MAIN = join(import.meta.dir, '..', '..', 'src', 'main.ts')

export interface GatewayProcess {
  readonly proc: Subprocess<'ignore', 'pipe', 'pipe'>
  /** http://127.0.0.1:PORT */
  readonly url: string
  /** Every stdout line so far. */
  readonly lines: string[]
  /** Sends the signal and resolves once the process is gone. */
  kill(signal: NodeJS.Signals): Promise<void>
}

export interface SpawnOptions {
  /** Where the child runs (a temp dir, so nothing lands in the repository). */
  readonly cwd: string
  /** Bun kills the child with SIGKILL after this long, even if a test forgets to. */
  readonly lifetimeMs?: number
  /** Environment changes for the child (undefined removes a variable). */
  readonly env?: Record<string, string | undefined>
}

/** Starts `bun src/main.ts <args>` on 127.0.0.1 and waits for its listening line. */
export async function spawnGateway(args: string[], { cwd, lifetimeMs = 60_000, env: changes = {} }: SpawnOptions): Promise<GatewayProcess> {
  const env: Record<string, string> = {}
  for (const [k, v] of Object.entries({ ...process.env, ...changes })) if (v !== undefined && !k.startsWith('SAGELLM_')) env[k] = v
  const proc = Bun.spawn([process.execPath, MAIN, '--host', '127.0.0.1', ...args], {
    cwd,
    env,
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
    timeout: lifetimeMs,
    killSignal: 'SIGKILL',
  })
  const lines = collectLines(proc.stdout)
  const stderr = new Response(proc.stderr).text()
  let exited = false
  void proc.exited.then(() => (exited = true))
  let listening: { url?: unknown } | undefined
  try {
    await waitFor(
      () => {
        listening = lines.map(parseJson).find((l) => l?.msg === 'sagellm-gateway listening')
        return listening !== undefined || exited
      },
      15_000,
      `the gateway's listening line (stdout so far: ${lines.join('\n')})`,
    )
  } catch (e) {
    proc.kill('SIGKILL')
    throw e
  }
  if (!listening) throw new Error(`gateway exited with ${await proc.exited} before listening: ${await stderr}`)
  return {
    proc,
    url: String(listening.url),
    lines,
    async kill(signal) {
      proc.kill(signal)
      await proc.exited
    },
  }
}

/** Waits until GET /v1/models lists `model` (engines are discovered after the gateway listens). */
export async function waitForModel(url: string, model: string, timeoutMs = 10_000): Promise<void> {
  await waitFor(
    async () => {
      const res = await fetch(`${url}/v1/models`)
      const body = (await res.json()) as { data?: { id: string }[] }
      return res.status === 200 && (body.data ?? []).some((m) => m.id === model)
    },
    timeoutMs,
    `model '${model}' to be listed by ${url}/v1/models`,
  )
}

/** A child's output as lines, filled in as they arrive. */
export function collectLines(stream: ReadableStream<Uint8Array>): string[] {
  const lines: string[] = []
  void (async () => {
    let buffered = ''
    const decoder = new TextDecoder()
    for await (const chunk of stream) {
      buffered += decoder.decode(chunk, { stream: true })
      const parts = buffered.split('\n')
      buffered = parts.pop()!
      lines.push(...parts)
    }
    if (buffered) lines.push(buffered)
  })()
  return lines
}

function parseJson(line: string): Record<string, unknown> | undefined {
  try {
    return JSON.parse(line) as Record<string, unknown>
  } catch {
    return undefined
  }
}
