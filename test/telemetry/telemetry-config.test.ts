// telemetryFromEnv: the standard OTEL_* variables and nothing else decide tracing: endpoint rules
// (the general endpoint gets /v1/traces, the traces endpoint is used as given), headers, samplers,
// OTEL_SDK_DISABLED, content capture; bad values stop start-up naming the variable.
import { expect, test } from 'bun:test'
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

test('bad values are configuration errors naming the variable', () => {
  const messageOf = (env: Record<string, string>) => {
    try {
      telemetryFromEnv(env)
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError)
      return (e as Error).message
    }
    throw new Error('expected a ConfigError')
  }
  expect(messageOf({ OTEL_TRACES_SAMPLER: 'sometimes' })).toContain('OTEL_TRACES_SAMPLER')
  expect(messageOf({ OTEL_TRACES_SAMPLER_ARG: '2' })).toContain('OTEL_TRACES_SAMPLER_ARG')
  expect(messageOf({ OTEL_EXPORTER_OTLP_ENDPOINT: 'grpc://c:4317' })).toContain('OTEL_EXPORTER_OTLP_ENDPOINT')
  expect(messageOf({ OTEL_EXPORTER_OTLP_HEADERS: 'novalue' })).toContain('OTEL_EXPORTER_OTLP_HEADERS')
})
