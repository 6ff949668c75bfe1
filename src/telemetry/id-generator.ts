// Trace and span ids from a pool of cryptographically random bytes, refilled 4 KiB at a time and
// turned to hex in the same go: an id is a slice of that hex string (one native conversion per pool,
// not one per id, nor the SDK default's Math.random words written one by one).
// An id of all zeros is invalid (W3C trace context) and is never returned.
import type { IdGenerator } from '@opentelemetry/sdk-trace'

const POOL_BYTES = 4096
const INVALID: Record<number, string> = { 8: '0'.repeat(16), 16: '0'.repeat(32) }

export class PooledIdGenerator implements IdGenerator {
  private readonly pool = Buffer.allocUnsafe(POOL_BYTES)
  private hex = ''
  private at = POOL_BYTES

  generateTraceId(): string {
    return this.next(16)
  }

  generateSpanId(): string {
    return this.next(8)
  }

  private next(bytes: number): string {
    for (;;) {
      if (this.at + bytes > POOL_BYTES) {
        crypto.getRandomValues(this.pool)
        this.hex = this.pool.toString('hex')
        this.at = 0
      }
      const start = this.at * 2
      this.at += bytes
      const id = this.hex.slice(start, start + 2 * bytes)
      if (id !== INVALID[bytes]) return id
    }
  }
}
