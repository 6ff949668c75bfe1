// The /sessions API: server-side conversations in the original gateway's shapes, plus paging,
// message listing, export/import and cleanup. Validation and status codes only; the service does the work.
import { Elysia } from 'elysia'
import { PAGE, type SessionService } from '../sessions/session-service'
import { intQuery, numberQuery, objectField } from './params'
import { CleanupQuery, ImportBody, ImportQuery, PageQuery, sessionModels } from '../schemas/sessions'

const tags = ['Sessions']
/** About 1,900 years: further back than any date a session can have. */
const MAX_AGE_MINUTES = 1e9

export function sessionRoutes(sessions: SessionService, defaultTtlMinutes: number) {
  return new Elysia({ name: 'sessions' })
    .model(sessionModels)
    .get('/sessions', ({ query }) => sessions.list(intQuery(query.limit, 'limit', 1, PAGE.max), query.cursor), {
      query: PageQuery,
      detail: { tags, summary: 'Sessions, most recently active first, with totals; page with limit and next_cursor' },
    })
    .post(
      '/sessions',
      // 200, as the original gateway answered (its clients check for it), not 201.
      ({ body }) => sessions.create({ ...body, metadata: objectField(body.metadata, 'metadata') }),
      { body: 'sessions.create', detail: { tags, summary: 'Create a session ({title?, session_id?, metadata?}, or no body); 409 if the id exists' } },
    )
    .get('/sessions/export', () => sessions.export(), { detail: { tags, summary: 'Every session with its messages: {version, exported_at, sessions}' } })
    .post(
      '/sessions/import',
      ({ body, query }) => sessions.import(body, query.overwrite === 'true' || query.overwrite === '1'),
      {
        body: ImportBody,
        query: ImportQuery,
        detail: { tags, summary: 'Import an export, one session or a list; existing ids skipped unless overwrite=true; all or nothing' },
      },
    )
    .post('/sessions/cleanup', ({ query }) => sessions.cleanup(numberQuery(query.max_age_minutes, 'max_age_minutes', 0, MAX_AGE_MINUTES) ?? defaultTtlMinutes), {
      query: CleanupQuery,
      detail: { tags, summary: 'Remove sessions idle longer than max_age_minutes (default sessions.ttl_minutes)' },
    })
    .get('/sessions/:id', ({ params }) => sessions.get(params.id), { detail: { tags, summary: 'One session with all its messages' } })
    .delete('/sessions/:id', ({ params }) => sessions.delete(params.id), { detail: { tags, summary: 'Delete a session' } })
    .get('/sessions/:id/messages', ({ params, query }) => sessions.messages(params.id, intQuery(query.limit, 'limit', 1, PAGE.max), query.cursor), {
      query: PageQuery,
      detail: { tags, summary: "A session's messages, oldest first; page with limit and next_cursor" },
    })
    .get('/sessions/:id/export', ({ params }) => sessions.export(params.id), { detail: { tags, summary: 'One session in the export format' } })
    .post('/sessions/:id/clear', ({ params }) => sessions.clear(params.id), { detail: { tags, summary: "Delete a session's messages, keep the session" } })
    .patch('/sessions/:id/title', ({ params, body }) => sessions.setTitle(params.id, body.title), {
      body: 'sessions.title',
      detail: { tags, summary: 'Rename a session' },
    })
}
