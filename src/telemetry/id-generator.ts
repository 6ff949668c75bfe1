// Trace and span ids from a pool of cryptographically random bytes, refilled 4 KiB at a time: one
// native hex conversion per id instead of the SDK default's Math.random words written one by one.
// An id of all zeros is invalid (W3C trace context) and is never returned.
import type { IdGenerator } from '@opentelemetry/sdk-trace'

const POOL_BYTES = 4096

export class PooledIdGenerator implements IdGenerator {
  private readonly pool = Buffer.allocUnsafe(POOL_BYTES)
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
        this.at = 0
      }
      const start = this.at
      this.at += bytes
      for (let i = start; i < start + bytes; i++) if (this.pool[i] !== 0) return this.pool.toString('hex', start, start + bytes)
    }
  }
}
