// What the hostile-input tests share: a gateway configured by a YAML file (stopped with its temp dir),
// OpenAI's error envelope checked exactly, and a chat body of a given shape.
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

export { expectOpenAIError, type OpenAIError } from '../helpers/http'

/** Names every `access-control-*` header of a response. */
export const corsHeadersOf = (res: Response): string[] => [...res.headers.keys()].filter((name) => name.startsWith('access-control-'))

export const user = (content: string) => ({ role: 'user', content })
export const chatBody = (model: string, extra: Record<string, unknown> = {}) => ({ model, messages: [user('hi')], ...extra })
