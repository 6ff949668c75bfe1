// What the hostile-input tests share: a gateway configured by a YAML file (stopped with its temp dir),
// OpenAI's error envelope checked exactly, and a chat body of a given shape.
import { expect } from 'bun:test'
import { startGateway, type TestGateway } from '../helpers/gateway'
import { writeConfigFile } from '../helpers/management-api'

export interface ConfiguredGateway {
  readonly gw: TestGateway
  stop(): Promise<void>
}

/** A gateway started with `--config` pointing at `yaml` written to a temp dir, plus `argv`. */
export async function configuredGateway(yaml: string, argv: string[] = []): Promise<ConfiguredGateway> {
  const file = writeConfigFile(yaml)
  const gw = await startGateway(['--config', file.path, ...argv])
  return {
    gw,
    async stop() {
      await gw.stop()
      file.remove()
    },
  }
}

export interface OpenAIError {
  message: string
  type: string
  param: string | null
  code: string | null
}

/** Checks status, content type and the exact envelope {error:{message,type,param,code,retryable}}; returns the error. */
export async function expectOpenAIError(res: Response, status: number): Promise<OpenAIError> {
  const text = await res.text()
  expect({ status: res.status, text: text.slice(0, 300) }).toMatchObject({ status })
  expect(res.headers.get('content-type')).toStartWith('application/json')
  const body = JSON.parse(text) as { error: OpenAIError }
  expect(Object.keys(body)).toEqual(['error'])
  expect(Object.keys(body.error).sort()).toEqual(['code', 'message', 'param', 'retryable', 'type'])
  expect(body.error.message.length).toBeGreaterThan(0)
  return body.error
}

/** Names every `access-control-*` header of a response. */
export const corsHeadersOf = (res: Response): string[] => [...res.headers.keys()].filter((name) => name.startsWith('access-control-'))

export const user = (content: string) => ({ role: 'user', content })
export const chatBody = (model: string, extra: Record<string, unknown> = {}) => ({ model, messages: [user('hi')], ...extra })
