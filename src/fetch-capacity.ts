// How many requests to https:// engines the gateway can have in flight at once (http:// engines go
// through the gateway's own client, engines/http1.ts, which has no cap). Bun's fetch sends at most 256
// requests at a time per process and queues the rest, unless BUN_CONFIG_MAX_HTTP_REQUESTS is in the
// environment when the process starts (setting it later changes nothing). Behind a gateway that
// would be a silent cap: the 257th concurrent stream waits for a free slot. So the compiled gateway,
// started without the variable, re-executes itself once in place (same pid, same arguments) with it set.
export const FETCH_CAPACITY_ENV = 'BUN_CONFIG_MAX_HTTP_REQUESTS'
/** Bun's own default when the variable is unset. */
export const BUN_DEFAULT_FETCH_CAPACITY = 256
/** What the gateway sets: far beyond any engine fleet's concurrency; each request is a socket anyway. */
export const GATEWAY_FETCH_CAPACITY = 16_384

/** The capacity this process runs with. */
export function fetchCapacity(env: Record<string, string | undefined> = process.env): number {
  const value = Number(env[FETCH_CAPACITY_ENV])
  return Number.isInteger(value) && value > 0 ? value : BUN_DEFAULT_FETCH_CAPACITY
}

/** True inside the compiled executable (its modules live in Bun's embedded file system). */
export function isCompiled(): boolean {
  return Bun.main.startsWith('/$bunfs/') || Bun.main.includes('~BUN')
}

/**
 * In the compiled executable without the variable: replaces this process with itself, variable set.
 * Returns only when there is nothing to do, or when re-executing failed (the caller logs the capacity).
 */
export function raiseFetchCapacity(): void {
  if (process.env[FETCH_CAPACITY_ENV] !== undefined || !isCompiled() || typeof process.execve !== 'function') return
  try {
    // argv is ['bun', '/$bunfs/root/<name>', ...arguments] in the executable.
    process.execve(process.execPath, [process.execPath, ...process.argv.slice(2)], { ...process.env, [FETCH_CAPACITY_ENV]: String(GATEWAY_FETCH_CAPACITY) })
  } catch {
    // e.g. execve refused by a sandbox: run on with Bun's default, which the start-up log reports
  }
}
