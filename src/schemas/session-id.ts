// What a client-supplied id (session id, trace id) may be: it reaches SQL, logs, spans, headers and
// engine routing keys, so it is held to a plain charset and length before anything else sees it.
export const SESSION_ID_PATTERN = '^[A-Za-z0-9._:\\-]{1,128}$'
export const SESSION_ID_RULE = '1 to 128 characters from A-Z a-z 0-9 . _ : -'
export const SESSION_ID = new RegExp(SESSION_ID_PATTERN)
/** A client's x-request-id is used when it has this shape too (else a fresh id replaces it). */
export const CLIENT_ID = SESSION_ID
