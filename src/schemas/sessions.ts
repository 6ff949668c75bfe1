// TypeBox models of the /sessions API's request bodies and queries (the original gateway's shapes).
import { Type } from '@sinclair/typebox'
import { t } from 'elysia'
import { nullable } from './nullable'
import { PAGE } from '../sessions/session-service'
import { SESSION_ID_PATTERN, SESSION_ID_RULE } from './session-id'

const title = t.String({ minLength: 1, maxLength: 1000, description: 'A non-empty title' })

export const CreateSessionBody = t.Object(
  {
    title: nullable(title),
    session_id: nullable(t.String({ pattern: SESSION_ID_PATTERN, description: `${SESSION_ID_RULE}; default a UUID` })),
    // Checked as an object by the controller: Elysia would reshape a string into one.
    metadata: t.Optional(t.Unknown({ description: 'A free-form object; its `title` is used when no title field is given' })),
  },
  { additionalProperties: false },
)

export const TitleBody = t.Object({ title }, { additionalProperties: false })

// Numbers in query strings are parsed by the controller (api/params.ts), which names them in errors.
export const PageQuery = t.Object({
  limit: t.Optional(t.String({ description: `1-${PAGE.max}, default ${PAGE.default}` })),
  cursor: t.Optional(t.String({ minLength: 1, description: 'next_cursor of the previous page' })),
})

// Parsed by the controller (api/params.ts boolQuery): true/false, 1/0, yes/no, on/off in any case.
export const ImportQuery = t.Object({
  overwrite: t.Optional(t.String({ description: 'true replaces sessions whose id exists; default false skips them' })),
})

export const CleanupQuery = t.Object({
  max_age_minutes: t.Optional(t.String({ description: 'Remove sessions idle longer than this many minutes (>= 0); default sessions.ttl_minutes' })),
})

export const sessionModels = {
  'sessions.create': CreateSessionBody,
  'sessions.title': TitleBody,
}

export const ImportBody = Type.Unknown({ description: 'An export ({version, exported_at, sessions}), one session, or a list of sessions' })
