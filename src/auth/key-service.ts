// Who a credential belongs to, and the lifecycle of virtual keys (create, read, change, revoke,
// delete). Virtual keys are held in memory by digest, written through to SQLite on every change, so
// checking a key costs one hash and one map lookup; last-used times are written in batches.
import { ApiError, ERROR_CODES } from '../errors'
import {
  ADMIN,
  digestAmong,
  digestOf,
  newKeyId,
  newSecret,
  SHOWN_PREFIX_LENGTH,
  staticKeyId,
  unusableBecause,
  type Principal,
  type VirtualKey,
} from './api-keys'
import type { KeyRepository } from './key-repository'

export interface KeyServiceOptions {
  /** Keys from the configuration (--api-key, SAGELLM_GATEWAY_API_KEYS, auth.api_keys). */
  readonly staticKeys: readonly string[]
  readonly adminKey?: string
  readonly now?: () => Date
}

/** What a create or update may set; null clears a limit or the model list. */
export interface KeyFields {
  readonly name?: string
  readonly models?: readonly string[] | null
  readonly rpm?: number | null
  readonly tpm?: number | null
  readonly maxConcurrency?: number | null
  readonly expiresAt?: string | null
}

export const invalidApiKey = (message: string) => new ApiError(401, message, 'authentication_error', ERROR_CODES.invalidApiKey)

const keyNotFound = (id: string) => new ApiError(404, `No API key with id '${id}'`, 'not_found_error', ERROR_CODES.notFound, 'id')

export class KeyService {
  private readonly byDigest = new Map<string, VirtualKey>()
  private readonly digestOfId = new Map<string, string>()
  private readonly staticDigests: Buffer[]
  private readonly adminDigest: Buffer | undefined
  private readonly lastUsed = new Map<string, string>()
  private readonly now: () => Date

  constructor(
    private readonly repo: KeyRepository,
    options: KeyServiceOptions,
  ) {
    this.now = options.now ?? (() => new Date())
    this.staticDigests = options.staticKeys.map(digestOf)
    this.adminDigest = options.adminKey === undefined ? undefined : digestOf(options.adminKey)
    for (const { key, hash } of repo.all()) this.remember(key, hash)
    this.issued = repo.keysIssued()
  }

  private issued: boolean

  /** Keys are required once any is configured or a virtual key was ever issued (even if since deleted). */
  get required(): boolean {
    return this.staticDigests.length > 0 || this.issued
  }

  /** The principal a secret stands for, or an invalid_api_key error saying why it stands for none. */
  authenticate(secret: string): Principal | ApiError {
    const digest = digestOf(secret)
    if (this.adminDigest && digestAmong(digest, [this.adminDigest])) return ADMIN
    const known = digestAmong(digest, this.staticDigests)
    if (known) return { kind: 'static', id: staticKeyId(known) }
    const key = this.byDigest.get(digest.toString('hex'))
    if (!key) return invalidApiKey('The API key is not valid: no key of this gateway matches it')
    const why = unusableBecause(key, this.now())
    if (why) return invalidApiKey(why)
    this.lastUsed.set(key.id, this.now().toISOString())
    return { kind: 'virtual', id: key.id, key }
  }

  /** Issues a key; the secret is in the answer and nowhere else. */
  create(fields: KeyFields & { name: string }): { key: VirtualKey; secret: string } {
    const secret = newSecret()
    const key: VirtualKey = {
      id: newKeyId(),
      name: fields.name,
      prefix: secret.slice(0, SHOWN_PREFIX_LENGTH),
      models: fields.models ?? null,
      rpm: fields.rpm ?? null,
      tpm: fields.tpm ?? null,
      maxConcurrency: fields.maxConcurrency ?? null,
      expiresAt: fields.expiresAt ?? null,
      revoked: false,
      createdAt: this.now().toISOString(),
      lastUsedAt: null,
    }
    const hash = digestOf(secret).toString('hex')
    this.repo.insert(key, hash)
    this.remember(key, hash)
    this.issued = true
    return { key, secret }
  }

  list(): VirtualKey[] {
    return [...this.byDigest.values()].map((k) => this.withLastUsed(k)).sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id))
  }

  get(id: string): VirtualKey {
    const hash = this.digestOfId.get(id)
    if (hash === undefined) throw keyNotFound(id)
    return this.withLastUsed(this.byDigest.get(hash)!)
  }

  update(id: string, fields: KeyFields): VirtualKey {
    const current = this.get(id)
    const key: VirtualKey = {
      ...current,
      name: fields.name ?? current.name,
      models: fields.models === undefined ? current.models : fields.models,
      rpm: fields.rpm === undefined ? current.rpm : fields.rpm,
      tpm: fields.tpm === undefined ? current.tpm : fields.tpm,
      maxConcurrency: fields.maxConcurrency === undefined ? current.maxConcurrency : fields.maxConcurrency,
      expiresAt: fields.expiresAt === undefined ? current.expiresAt : fields.expiresAt,
    }
    return this.replace(key)
  }

  revoke(id: string): VirtualKey {
    return this.replace({ ...this.get(id), revoked: true })
  }

  delete(id: string): { id: string; deleted: true } {
    const hash = this.digestOfId.get(id)
    if (hash === undefined) throw keyNotFound(id)
    this.repo.delete(id)
    this.byDigest.delete(hash)
    this.digestOfId.delete(id)
    this.lastUsed.delete(id)
    return { id, deleted: true }
  }

  /** The name of a virtual key, for usage reports (undefined for other principals and deleted keys). */
  nameOf(id: string): string | undefined {
    const hash = this.digestOfId.get(id)
    return hash === undefined ? undefined : this.byDigest.get(hash)?.name
  }

  /** Writes the last-used times gathered since the previous flush. */
  flush(): void {
    if (!this.lastUsed.size) return
    const batch = new Map(this.lastUsed)
    this.repo.touchAll(batch)
    for (const [id, at] of batch) {
      const hash = this.digestOfId.get(id)
      const key = hash === undefined ? undefined : this.byDigest.get(hash)
      if (key) this.byDigest.set(hash!, { ...key, lastUsedAt: at })
      if (this.lastUsed.get(id) === at) this.lastUsed.delete(id)
    }
  }

  private replace(key: VirtualKey): VirtualKey {
    this.repo.update(key)
    this.byDigest.set(this.digestOfId.get(key.id)!, key)
    return this.withLastUsed(key)
  }

  private remember(key: VirtualKey, hash: string): void {
    this.byDigest.set(hash, key)
    this.digestOfId.set(key.id, hash)
  }

  private withLastUsed(key: VirtualKey): VirtualKey {
    const at = this.lastUsed.get(key.id)
    return at === undefined ? key : { ...key, lastUsedAt: at }
  }
}
