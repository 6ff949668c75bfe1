// The --help text: every flag, with its environment variable and default.
import { DEFAULTS, ENV } from './config'

export const HELP = `sagellm-gateway: OpenAI/Anthropic-compatible gateway for self-hosted inference engines

Usage: sagellm-gateway [options]

  --host HOST                 listen address            (env ${ENV.host}, default ${DEFAULTS.host})
  --port PORT                 listen port               (env ${ENV.port}, default ${DEFAULTS.port})
  --config FILE               YAML or JSON config file  (env ${ENV.config})
  --db PATH                   SQLite database file, or :memory: (env ${ENV.db}, default ${DEFAULTS.dbPath})
  --engine URL                OpenAI-compatible engine base URL, repeatable (env ${ENV.engines}, comma-separated)
  --mock                      start the built-in mock engine (env ${ENV.mockMode}=1)
  --mock-model NAME           model id served by the mock engine, repeatable (default: mock)
  --mock-chunk-delay-ms MS    pause between the mock engine's stream chunks (default 0)
  --log-level LEVEL           debug, info, warning or error (env ${ENV.logLevel}, default info)
  --request-timeout SECONDS   wait for an engine's first byte, and longest silence in a stream (default 600)
  --max-body-bytes N          largest accepted request body (default ${DEFAULTS.maxBodyBytes})
  --drain-timeout SECONDS     on SIGTERM/SIGINT, how long in-flight requests may finish (default 30)
  --admin-key KEY             bearer key for the management API (env ${ENV.adminKey}); none: loopback only
  --api-key KEY               an API key clients must send, repeatable (env ${ENV.apiKeys}, comma-separated);
                              none and no virtual keys issued: the gateway is open
  --control-plane             accepted for compatibility; the control plane is always embedded
  -v, --version               print the version and exit
  -h, --help                  print this help and exit

Single engine, as the original: ${ENV.engineHost}, ${ENV.enginePort}, ${ENV.engineModel}, ${ENV.engineId}.
Sessions: idle sessions expire after ${ENV.sessionTtlMinutes} minutes (default ${DEFAULTS.sessionTtlMinutes}; 0 = never).
Tracing: the standard OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, OTEL_EXPORTER_OTLP_HEADERS,
OTEL_SERVICE_NAME, OTEL_TRACES_SAMPLER(_ARG), OTEL_SDK_DISABLED, OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT,
OTEL_EXPORTER_OTLP_TIMEOUT, OTEL_EXPORTER_OTLP_COMPRESSION, OTEL_EXPORTER_OTLP_CERTIFICATE, OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE,
OTEL_EXPORTER_OTLP_CLIENT_KEY (each also in its _TRACES_ form).
Everything else (routing, scheduling, retries, circuit breaker, health, sessions, auth, limits, cors, usage) is set in the config
file; see deploy/config.example.yaml.
`
