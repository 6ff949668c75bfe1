// The OpenTelemetry settings, read from the standard OTEL_* variables only (as the original gateway
// was configured): where traces go, with which headers, which sampler, and whether prompt and
// completion text may be recorded. config.ts hands it the environment (and a file reader, for the
// collector's TLS files).
import { readFileSync } from 'node:fs'
import { createSecureContext } from 'node:tls'
import { ConfigError } from '../config-values'

export type SamplerName = 'always_on' | 'always_off' | 'traceidratio' | 'parentbased_always_on' | 'parentbased_always_off' | 'parentbased_traceidratio'

export interface TelemetryConfig {
  readonly serviceName: string
  /** Full OTLP/HTTP traces URL; undefined: no exporter, tracing costs nothing. */
  readonly tracesEndpoint?: string
  readonly headers: Readonly<Record<string, string>>
  readonly sampler: SamplerName
  /** The ratio for the traceidratio samplers, in [0, 1]. */
  readonly samplerRatio: number
  /** OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT: prompts and completions on spans. */
  readonly captureContent: boolean
  /** The collector's TLS: PEM text of the files the OTEL_EXPORTER_OTLP_[TRACES_]CERTIFICATE / CLIENT_CERTIFICATE / CLIENT_KEY variables name. */
  readonly tls?: CollectorTls
}

export interface CollectorTls {
  /** Certificates trusted for the collector (instead of the system's). */
  readonly ca?: string
  /** The gateway's client certificate chain and key (mutual TLS). */
  readonly cert?: string
  readonly key?: string
}

export const OTEL_ENV = {
  disabled: 'OTEL_SDK_DISABLED',
  serviceName: 'OTEL_SERVICE_NAME',
  endpoint: 'OTEL_EXPORTER_OTLP_ENDPOINT',
  tracesEndpoint: 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT',
  headers: 'OTEL_EXPORTER_OTLP_HEADERS',
  tracesHeaders: 'OTEL_EXPORTER_OTLP_TRACES_HEADERS',
  sampler: 'OTEL_TRACES_SAMPLER',
  samplerArg: 'OTEL_TRACES_SAMPLER_ARG',
  captureContent: 'OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT',
} as const

/** The TLS file variables, each also in a TRACES_ form that takes precedence (OTLP exporter spec). */
const TLS_FILES = { ca: 'CERTIFICATE', cert: 'CLIENT_CERTIFICATE', key: 'CLIENT_KEY' } as const

const SAMPLERS: readonly SamplerName[] = ['always_on', 'always_off', 'traceidratio', 'parentbased_always_on', 'parentbased_always_off', 'parentbased_traceidratio']

export function telemetryFromEnv(env: Readonly<Record<string, string | undefined>>, readFile = (path: string) => readFileSync(path, 'utf8')): TelemetryConfig {
  const get = (name: string) => env[name]?.trim() || undefined
  const disabled = get(OTEL_ENV.disabled)?.toLowerCase() === 'true'
  const sampler = (get(OTEL_ENV.sampler)?.toLowerCase() ?? 'parentbased_always_on') as SamplerName
  if (!SAMPLERS.includes(sampler)) throw new ConfigError(`${OTEL_ENV.sampler}: '${get(OTEL_ENV.sampler)}' is not one of ${SAMPLERS.join(', ')}`)
  const ratioText = get(OTEL_ENV.samplerArg)
  const ratio = ratioText === undefined ? 1 : Number(ratioText)
  if (!(ratio >= 0 && ratio <= 1)) throw new ConfigError(`${OTEL_ENV.samplerArg}: '${ratioText}' is not a ratio between 0 and 1`)
  const tracesEndpoint = disabled ? undefined : tracesUrl(get(OTEL_ENV.tracesEndpoint), get(OTEL_ENV.endpoint))
  return {
    serviceName: get(OTEL_ENV.serviceName) ?? 'sagellm-gateway',
    tracesEndpoint,
    tls: tracesEndpoint ? collectorTls(get, readFile) : undefined,
    headers: { ...parseHeaders(get(OTEL_ENV.headers), OTEL_ENV.headers), ...parseHeaders(get(OTEL_ENV.tracesHeaders), OTEL_ENV.tracesHeaders) },
    sampler,
    samplerRatio: ratio,
    captureContent: get(OTEL_ENV.captureContent)?.toLowerCase() === 'true',
  }
}

/** The collector's TLS files, read at start-up: a file that cannot be read is a configuration error naming its variable. */
function collectorTls(get: (name: string) => string | undefined, readFile: (path: string) => string): CollectorTls | undefined {
  const tls: Record<string, string> = {}
  const names: Record<string, string> = {}
  for (const [field, suffix] of Object.entries(TLS_FILES)) {
    const name = get(`OTEL_EXPORTER_OTLP_TRACES_${suffix}`) ? `OTEL_EXPORTER_OTLP_TRACES_${suffix}` : `OTEL_EXPORTER_OTLP_${suffix}`
    const path = get(name)
    if (path === undefined) continue
    names[field] = name
    try {
      tls[field] = readFile(path)
    } catch (e) {
      throw new ConfigError(`${name}: cannot read '${path}': ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`)
    }
  }
  if (Object.keys(tls).length === 0) return undefined
  // Checked now: a bad file would otherwise fail every export, each retried, with a socket error.
  if ((tls.cert === undefined) !== (tls.key === undefined)) {
    const [given, missing] = tls.cert === undefined ? [names.key!, 'OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE'] : [names.cert!, 'OTEL_EXPORTER_OTLP_CLIENT_KEY']
    throw new ConfigError(`${given}: a client certificate needs its key and the key its certificate; ${missing} is not set`)
  }
  const check = (what: string, options: Record<string, string>) => {
    try {
      createSecureContext(options)
    } catch (e) {
      throw new ConfigError(`${what}: not a usable PEM file (${(e as Error).message})`)
    }
  }
  if (tls.ca !== undefined) check(names.ca!, { ca: tls.ca })
  if (tls.cert !== undefined) check(`${names.cert} / ${names.key}`, { cert: tls.cert, key: tls.key! })
  return tls
}

/** The signal-specific endpoint is used as given; the general one gets `/v1/traces` appended (OTLP spec). */
function tracesUrl(specific: string | undefined, general: string | undefined): string | undefined {
  const raw = specific ?? (general ? `${general.replace(/\/+$/, '')}/v1/traces` : undefined)
  if (raw === undefined) return undefined
  try {
    const url = new URL(raw)
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('not http(s)')
  } catch {
    throw new ConfigError(`${specific ? OTEL_ENV.tracesEndpoint : OTEL_ENV.endpoint}: '${specific ?? general}' is not an http(s) URL`)
  }
  return raw
}

/** `key=value,key2=value2`, values URL-encoded (W3C baggage style, as the OTLP exporter spec says). */
function parseHeaders(raw: string | undefined, name: string): Record<string, string> {
  const headers: Record<string, string> = {}
  if (!raw) return headers
  for (const pair of raw.split(',')) {
    const at = pair.indexOf('=')
    if (at <= 0) throw new ConfigError(`${name}: '${pair.trim()}' is not key=value`)
    headers[decodeURIComponent(pair.slice(0, at).trim())] = decodeURIComponent(pair.slice(at + 1).trim())
  }
  return headers
}
