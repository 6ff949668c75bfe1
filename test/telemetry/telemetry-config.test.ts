// telemetryFromEnv: the standard OTEL_* variables and nothing else decide tracing: endpoint rules
// (the general endpoint gets /v1/traces, the traces endpoint is used as given), headers, samplers,
// OTEL_SDK_DISABLED, content capture, the collector TLS files; bad values stop start-up naming the variable.
import { expect, test } from 'bun:test'
import { readFileSync } from 'node:fs'
import { ConfigError } from '../../src/config-values'
import { telemetryFromEnv } from '../../src/telemetry/telemetry-config'

test('with no variables: no endpoint, the default service name and sampler, no content', () => {
  expect(telemetryFromEnv({})).toEqual({ serviceName: 'sagellm-gateway', tracesEndpoint: undefined, headers: {}, sampler: 'parentbased_always_on', samplerRatio: 1, captureContent: false })
})

test('the general endpoint gets /v1/traces; the traces endpoint is used as given and wins', () => {
  expect(telemetryFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318/' }).tracesEndpoint).toBe('http://c:4318/v1/traces')
  expect(telemetryFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://t:9/x' }).tracesEndpoint).toBe('http://t:9/x')
})

test('OTEL_SDK_DISABLED=true turns the exporter off whatever the endpoint', () => {
  expect(telemetryFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_SDK_DISABLED: 'true' }).tracesEndpoint).toBeUndefined()
})

test('headers are key=value lists, URL-decoded; the traces-specific ones are added last', () => {
  const config = telemetryFromEnv({ OTEL_EXPORTER_OTLP_HEADERS: 'a=1, authorization=Bearer%20k', OTEL_EXPORTER_OTLP_TRACES_HEADERS: 'a=2' })
  expect(config.headers).toEqual({ a: '2', authorization: 'Bearer k' })
})

test('samplers, ratio, service name and content capture', () => {
  const config = telemetryFromEnv({ OTEL_TRACES_SAMPLER: 'TraceIdRatio', OTEL_TRACES_SAMPLER_ARG: '0.25', OTEL_SERVICE_NAME: 'gw-7', OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT: 'TRUE' })
  expect(config).toMatchObject({ sampler: 'traceidratio', samplerRatio: 0.25, serviceName: 'gw-7', captureContent: true })
})

/** The message of the ConfigError telemetryFromEnv raises for `env` (a test failure if it raises none). */
function messageOf(env: Record<string, string>, readFile?: (path: string) => string): string {
  try {
    telemetryFromEnv(env, readFile)
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError)
    return (e as Error).message
  }
  throw new Error('expected a ConfigError')
}

test('bad values are configuration errors naming the variable', () => {
  expect(messageOf({ OTEL_TRACES_SAMPLER: 'sometimes' })).toContain('OTEL_TRACES_SAMPLER')
  expect(messageOf({ OTEL_TRACES_SAMPLER_ARG: '2' })).toContain('OTEL_TRACES_SAMPLER_ARG')
  expect(messageOf({ OTEL_EXPORTER_OTLP_ENDPOINT: 'grpc://c:4317' })).toContain('OTEL_EXPORTER_OTLP_ENDPOINT')
  expect(messageOf({ OTEL_EXPORTER_OTLP_HEADERS: 'novalue' })).toContain('OTEL_EXPORTER_OTLP_HEADERS')
})

const FIXTURES = `${import.meta.dir}/../fixtures/tls`

test('the collector TLS files are read at start-up, the TRACES_ variable before the general one; none without an endpoint', async () => {
  const cert = await Bun.file(`${FIXTURES}/loopback.crt`).text()
  const key = await Bun.file(`${FIXTURES}/loopback.key`).text()
  const tlsEnv = {
    OTEL_EXPORTER_OTLP_CERTIFICATE: `${FIXTURES}/missing.crt`,
    OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE: `${FIXTURES}/loopback.crt`,
    OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE: `${FIXTURES}/loopback.crt`,
    OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY: `${FIXTURES}/loopback.key`,
  }
  expect(telemetryFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'https://c:4318', ...tlsEnv }).tls).toEqual({ ca: cert, cert, key })
  expect(telemetryFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'https://c:4318' }).tls).toBeUndefined()
  expect(telemetryFromEnv(tlsEnv).tls).toBeUndefined()
})

test('a TLS file that cannot be read, is not PEM, or a client certificate without its key stops start-up naming the variable', () => {
  const files: Record<string, string> = { '/etc/garbage.pem': 'not a certificate' }
  const read = (path: string) => {
    if (path.startsWith(FIXTURES)) return readFileSync(path, 'utf8')
    if (!(path in files)) throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' })
    return files[path]!
  }
  const tlsError = (env: Record<string, string>) => messageOf({ OTEL_EXPORTER_OTLP_ENDPOINT: 'https://c:4318', ...env }, read)
  expect(tlsError({ OTEL_EXPORTER_OTLP_CLIENT_KEY: '/etc/missing.pem' })).toBe("OTEL_EXPORTER_OTLP_CLIENT_KEY: cannot read '/etc/missing.pem': ENOENT")
  expect(tlsError({ OTEL_EXPORTER_OTLP_CERTIFICATE: '/etc/garbage.pem' })).toStartWith('OTEL_EXPORTER_OTLP_CERTIFICATE: not a usable PEM file')
  expect(tlsError({ OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE: `${FIXTURES}/loopback.crt` })).toBe(
    'OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE: a client certificate needs its key and the key its certificate; OTEL_EXPORTER_OTLP_CLIENT_KEY is not set',
  )
  expect(tlsError({ OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE: `${FIXTURES}/loopback.crt`, OTEL_EXPORTER_OTLP_CLIENT_KEY: '/etc/garbage.pem' })).toStartWith(
    'OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE / OTEL_EXPORTER_OTLP_CLIENT_KEY: not a usable PEM file',
  )
})
