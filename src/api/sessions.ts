// The /sessions API: server-side conversations in the original gateway's shapes, plus paging,
// message listing, export/import and cleanup. Validation and status codes only; the service does the work.
import { Elysia } from 'elysia'
import type { AccessControl } from '../auth/access-control'
import { invalidRequest } from '../errors'
import { SESSION_ID, SESSION_ID_RULE } from '../schemas/session-id'
import { PAGE, type SessionService } from '../sessions/session-service'
import type { PrincipalOf } from './auth'
import { boolQuery, intQuery, numberQuery, objectField, withoutNulls } from './params'
import { CleanupQuery, ImportBody, ImportQuery, PageQuery, sessionModels } from '../schemas/sessions'

const tags = ['Sessions']
/** About 1,900 years: further back than any date a session can have. */
const MAX_AGE_MINUTES = 1e9

export function sessionRoutes(sessions: SessionService, defaultTtlMinutes: number, access: AccessControl, principalOf: PrincipalOf) {
  /** Whose sessions this request sees: a key's own, or all (open gateway, admin key). */
  const scope = (request: Request) => access.sessionScope(principalOf(request))
  return new Elysia({ name: 'sessions' })
    .model(sessionModels)
    .get('/sessions', ({ query, request }) => sessions.list(intQuery(query.limit, 'limit', 1, PAGE.max), query.cursor, scope(request)), {
      query: PageQuery,
      detail: { tags, summary: 'Sessions, most recently active first, with totals; page with limit and next_cursor' },
    })
    .post(
      '/sessions',
      // 200, as the original gateway answered (its clients check for it), not 201.
      ({ body, request }) => sessions.create({ ...withoutNulls(body), metadata: objectField(body.metadata, 'metadata') }, scope(request)),
      { body: 'sessions.create', detail: { tags, summary: 'Create a session ({title?, session_id?, metadata?}, or no body); 409 if the id exists' } },
    )
    .get('/sessions/export', ({ request }) => sessions.export(undefined, scope(request)), { detail: { tags, summary: 'Every session with its messages: {version, exported_at, sessions}' } })
    .post(
      '/sessions/import',
      ({ body, query, request }) => sessions.import(body, boolQuery(query.overwrite, 'overwrite') ?? false, scope(request)),
      {
        body: ImportBody,
        query: ImportQuery,
        detail: { tags, summary: 'Import an export, one session or a list; existing ids skipped unless overwrite=true; all or nothing' },
      },
    )
    .post('/sessions/cleanup', ({ query, request }) => sessions.cleanup(numberQuery(query.max_age_minutes, 'max_age_minutes', 0, MAX_AGE_MINUTES) ?? defaultTtlMinutes, scope(request)), {
      query: CleanupQuery,
      detail: { tags, summary: 'Remove sessions idle longer than max_age_minutes (default sessions.ttl_minutes)' },
    })
    .get('/sessions/:id', ({ params, request }) => sessions.get(sessionId(params.id), scope(request)), { detail: { tags, summary: 'One session with all its messages' } })
    .delete('/sessions/:id', ({ params, request }) => sessions.delete(sessionId(params.id), scope(request)), { detail: { tags, summary: 'Delete a session' } })
    .get('/sessions/:id/messages', ({ params, query, request }) => sessions.messages(sessionId(params.id), intQuery(query.limit, 'limit', 1, PAGE.max), query.cursor, scope(request)), {
      query: PageQuery,
      detail: { tags, summary: "A session's messages, oldest first; page with limit and next_cursor" },
    })
    .get('/sessions/:id/export', ({ params, request }) => sessions.export(sessionId(params.id), scope(request)), { detail: { tags, summary: 'One session in the export format' } })
    .post('/sessions/:id/clear', ({ params, request }) => sessions.clear(sessionId(params.id), scope(request)), { detail: { tags, summary: "Delete a session's messages, keep the session" } })
    .patch('/sessions/:id/title', ({ params, body, request }) => sessions.setTitle(sessionId(params.id), body.title, scope(request)), {
      body: 'sessions.title',
      detail: { tags, summary: 'Rename a session' },
    })
}

/** A session id from the path, held to the session id charset before it reaches SQL or logs. */
function sessionId(raw: string): string {
  if (!SESSION_ID.test(raw)) throw invalidRequest(`A session id is ${SESSION_ID_RULE}`, 'session_id')
  return raw
}
