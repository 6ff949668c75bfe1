// Applies the access control to every request, before its body is read: public routes pass, every
// other needs a valid key once keys are required. Handlers read the principal with `principalOf`;
// admin-only calls (fleet changes, keys, usage) go through `requireAdmin`.
import { Elysia } from 'elysia'
import { OPEN, type Principal } from '../auth/api-keys'
import type { AccessControl } from '../auth/access-control'
import type { Operation } from '../control-plane/engine'
import { isLoopbackHost } from '../config-values'
import { ApiError, ERROR_CODES } from '../errors'
import type { SessionScope } from '../sessions/session-service'
import type { RequestTelemetry } from '../telemetry/request-telemetry'
import { pathOf } from './request-path'

export type PrincipalOf = (request: Request) => Principal

/**
 * Lets an inference call in: the caller's key may use the model and is within its limits (the
 * x-ratelimit-* headers go on the answer, whatever it turns out to be). Returns whose sessions
 * the call may use.
 */
export type AdmitInference = (
  operation: Operation,
  body: Record<string, unknown> & { model: string },
  context: { request: Request; set: { headers: Record<string, unknown> } },
) => SessionScope

interface RequestIPSource {
  requestIP(request: Request): { address: string } | null
}

/** A route context's parts an admin check reads. */
export interface AdminCheckContext {
  readonly request: Request
  readonly server: RequestIPSource | null
}

export function authGate(access: AccessControl, adminKey: string | undefined, telemetry: RequestTelemetry) {
  const principals = new WeakMap<Request, Principal>()
  const plugin = new Elysia({ name: 'auth-gate' })
    .onRequest(({ request }) => {
      if (request.method === 'OPTIONS') return
      const path = pathOf(request)
      const principal = access.principalOf(request.headers, path)
      principals.set(request, principal)
      const record = access.countsForUsage(request.method, path) ? telemetry.recordOf(request) : undefined
      if (record) record.keyId = principal.id
    })
    .as('global')
  /** The principal the gate found for this request (OPEN when it saw none: only public routes). */
  const principalOf: PrincipalOf = (request) => principals.get(request) ?? OPEN
  /**
   * Admin-only calls: the admin key (Bearer or x-api-key) when one is configured; without one,
   * clients on loopback only (the operator on the node itself).
   */
  const requireAdmin = ({ request, server }: AdminCheckContext): void => {
    const principal = principalOf(request)
    if (adminKey) {
      if (principal.kind === 'admin') return
      if (principal.kind !== 'open') throw new ApiError(403, 'This call needs the admin key; the API key sent is not it', 'permission_error', ERROR_CODES.permissionDenied)
      const sent = request.headers.has('authorization') || request.headers.has('x-api-key')
      throw new ApiError(401, sent ? 'The admin key is not valid' : 'This call needs the admin key: send it as Authorization: Bearer <key>', 'authentication_error', ERROR_CODES.unauthenticated)
    }
    const address = server?.requestIP(request)?.address
    if (!address || !isLoopbackHost(address))
      throw new ApiError(403, `No admin key is configured, so only loopback clients may make this call (this request came from ${address ?? 'an unknown address'}); set --admin-key to manage the gateway remotely`, 'permission_error', ERROR_CODES.permissionDenied)
  }
  const admitInference: AdmitInference = (operation, body, { request, set }) => {
    const principal = principalOf(request)
    const admission = access.admit(principal, operation, body, telemetry.recordOf(request))
    if (admission) Object.assign(set.headers, admission.headers)
    return access.sessionScope(principal)
  }
  return { plugin, principalOf, requireAdmin, admitInference }
}
