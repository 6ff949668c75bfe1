// A body field that may be left out or sent as null, both meaning "not given": Python clients send
// None for what they do not set, and the OpenAI and Anthropic APIs accept null for optional fields.
import { t } from 'elysia'

export const nullable = <T extends Parameters<typeof t.Nullable>[0]>(schema: T) => t.Optional(t.Nullable(schema))
