// API keys and the principals they stand for. A secret is never stored or compared in clear: the
// gateway keeps its SHA-256 digest and compares digests (timingSafeEqual for the configured keys, a
// digest lookup for virtual keys, which are random 256-bit secrets).
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'

/** Secrets the gateway issues start with this, so scanners and humans can tell them apart. */
export const SECRET_PREFIX = 'sk-sgl-'
/** How much of a secret is kept to show humans which key is which. */
export const SHOWN_PREFIX_LENGTH = SECRET_PREFIX.length + 4

/** A virtual key as stored (the secret's digest aside). */
export interface VirtualKey {
  readonly id: string
  readonly name: string
  readonly prefix: string
  /** null: every model. */
  readonly models: readonly string[] | null
  readonly rpm: number | null
  readonly tpm: number | null
  readonly maxConcurrency: number | null
  /** ISO 8601, UTC. */
  readonly expiresAt: string | null
  readonly revoked: boolean
  readonly createdAt: string
  readonly lastUsedAt: string | null
}

/**
 * Who is calling. `open`: no keys are configured, anyone may call. `admin`: the admin key, which
 * may do anything and sees every session. `static`: a key from the configuration (every model, no
 * limits). `virtual`: a key issued through the management API.
 */
export type Principal =
  | { readonly kind: 'open'; readonly id: 'anonymous' }
  | { readonly kind: 'admin'; readonly id: 'admin' }
  | { readonly kind: 'static'; readonly id: string }
  | { readonly kind: 'virtual'; readonly id: string; readonly key: VirtualKey }

export const OPEN: Principal = { kind: 'open', id: 'anonymous' }
export const ADMIN: Principal = { kind: 'admin', id: 'admin' }

export function digestOf(secret: string): Buffer {
  return createHash('sha256').update(secret).digest()
}

export function newSecret(): string {
  return SECRET_PREFIX + randomBytes(32).toString('base64url')
}

export function newKeyId(): string {
  return `key_${randomBytes(8).toString('hex')}`
}

/** The id a static key goes by in usage and session ownership: stable across restarts, not the secret. */
export function staticKeyId(digest: Buffer): string {
  return `static:${digest.subarray(0, 4).toString('hex')}`
}

/** Whether a digest is among `known`, looking at every one (no early exit). */
export function digestAmong(digest: Buffer, known: readonly Buffer[]): Buffer | undefined {
  let found: Buffer | undefined
  for (const candidate of known) if (timingSafeEqual(digest, candidate)) found = candidate
  return found
}

/** Whether the key may call `model`: no list means every model; an entry ending in `*` is a prefix. */
export function allowsModel(models: readonly string[] | null, model: string): boolean {
  if (!models) return true
  return models.some((m) => (m.endsWith('*') ? model.startsWith(m.slice(0, -1)) : m === model))
}

/** Why a virtual key cannot be used now, or undefined when it can. */
export function unusableBecause(key: VirtualKey, now: Date): string | undefined {
  if (key.revoked) return `The API key '${key.name}' (${key.prefix}…) has been revoked`
  if (key.expiresAt !== null && Date.parse(key.expiresAt) <= now.getTime()) return `The API key '${key.name}' (${key.prefix}…) expired at ${key.expiresAt}`
  return undefined
}

/** The key's public record, as the management API shows it (snake_case; never the secret or its digest). */
export function toKeyRecord(key: VirtualKey) {
  return {
    id: key.id,
    name: key.name,
    prefix: key.prefix,
    models: key.models,
    rpm: key.rpm,
    tpm: key.tpm,
    max_concurrency: key.maxConcurrency,
    expires_at: key.expiresAt,
    revoked: key.revoked,
    created_at: key.createdAt,
    last_used_at: key.lastUsedAt,
  }
}
