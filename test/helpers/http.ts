// Response bodies in tests: assertions inspect them freely, so they are typed loosely here only; and
// the one check of the OpenAI error envelope every error test shares.
import { expect } from 'bun:test'

export const readJson = (res: Response): Promise<any> => res.json() as Promise<any>

/** The OpenAI error envelope's error object, with the sageLLM protocol's retryable flag. */
export interface OpenAIError {
  message: string
  type: string
  param: string | null
  code: string | null
  retryable: boolean
}

/**
 * Checks status (showing the body when it differs), content type and the exact envelope
 * {error:{message,type,param,code,retryable}}, with retryable and x-should-retry by the protocol's rule
 * (408, 429 and 5xx but 501) unless `expected` says otherwise; returns the error, matched against `expected`.
 */
export async function expectOpenAIError(res: Response, status: number, expected: Partial<OpenAIError> = {}): Promise<OpenAIError> {
  const text = await res.text()
  expect({ status: res.status, text: text.slice(0, 300) }).toMatchObject({ status })
  expect(res.headers.get('content-type')).toStartWith('application/json')
  const body = JSON.parse(text) as { error: OpenAIError }
  expect(Object.keys(body)).toEqual(['error'])
  expect(Object.keys(body.error).sort()).toEqual(['code', 'message', 'param', 'retryable', 'type'])
  expect(body.error.retryable).toBe(expected.retryable ?? (status === 408 || status === 429 || (status >= 500 && status !== 501)))
  expect(res.headers.get('x-should-retry')).toBe(String(body.error.retryable))
  expect(typeof body.error.message).toBe('string')
  expect(body.error.message.length).toBeGreaterThan(0)
  expect(typeof body.error.type).toBe('string')
  expect(body.error).toMatchObject(expected)
  return body.error
}
