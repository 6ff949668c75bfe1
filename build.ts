// Compiles the gateway into one self-contained executable per target (Bun runtime, bundled code,
// embedded migrations and version), writes a sha256sum-compatible checksum beside each one.
//
//   bun run build                                   host target  -> dist/sagellm-gateway
//   bun run build --target linux-arm64              one target   -> dist/sagellm-gateway-linux-arm64
//   bun run build --target linux-x64 --target linux-arm64   (or --target linux-x64,linux-arm64)
//   bun run build --all                             every target in TARGETS
//   bun run build --no-bytecode                     skip ahead-of-time bytecode (smaller, slower start)
//
// Cross targets need Bun to download that target's runtime from the npm registry on first use.
import { mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { basename, join } from 'node:path'
import { parseArgs } from 'node:util'

const TARGETS = {
  'linux-x64': 'bun-linux-x64',
  'linux-arm64': 'bun-linux-arm64',
  'linux-x64-baseline': 'bun-linux-x64-baseline',
} as const satisfies Record<string, Bun.Build.CompileTarget>
type TargetName = keyof typeof TARGETS

const OUT_DIR = 'dist'
const NAME = 'sagellm-gateway'
const USAGE = `Usage: bun run build [--target ${Object.keys(TARGETS).join('|')}]... [--all] [--no-bytecode]\n`

interface Job {
  /** undefined = the host Bun runs on. */
  readonly target?: TargetName
  readonly outfile: string
}

function die(message: string): never {
  process.stderr.write(`build: ${message}\n`)
  process.exit(1)
}

function parseJobs(argv: string[]): { jobs: Job[]; bytecode: boolean } {
  let values
  try {
    ;({ values } = parseArgs({
      args: argv,
      options: {
        target: { type: 'string', multiple: true },
        all: { type: 'boolean' },
        'no-bytecode': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }))
  } catch (e) {
    die(`${(e as Error).message}\n${USAGE}`)
  }
  if (values.help) {
    process.stdout.write(USAGE)
    process.exit(0)
  }
  const names = values.all ? Object.keys(TARGETS) : (values.target ?? []).flatMap((t) => t.split(',')).map((t) => t.trim()).filter(Boolean)
  for (const n of names) if (!(n in TARGETS)) die(`unknown target '${n}' (known: ${Object.keys(TARGETS).join(', ')})`)
  const unique = [...new Set(names)] as TargetName[]
  const jobs: Job[] = unique.length
    ? unique.map((target) => ({ target, outfile: join(OUT_DIR, `${NAME}-${target}`) }))
    : [{ outfile: join(OUT_DIR, NAME) }]
  return { jobs, bytecode: !values['no-bytecode'] }
}

async function compile({ target, outfile }: Job, bytecode: boolean): Promise<void> {
  let result: Bun.BuildOutput
  try {
    result = await Bun.build({
      entrypoints: ['./src/main.ts'],
      compile: {
        ...(target ? { target: TARGETS[target] } : {}),
        outfile,
        // A service's environment comes from systemd/the shell only: a stray .env or bunfig.toml in the
        // working directory must not change the gateway's configuration.
        autoloadDotenv: false,
        autoloadBunfig: false,
      },
      target: 'bun',
      format: 'esm',
      minify: true,
      // With compile, the source map is embedded in the executable so stack traces name src/ lines.
      sourcemap: 'linked',
      bytecode,
    })
  } catch (e) {
    // Bun.build throws an AggregateError carrying the build messages when a build fails.
    const errors: unknown[] = (e as AggregateError).errors ?? [e]
    die(`${target ?? 'host'} build failed:\n${errors.map((x) => `  ${describe(x)}`).join('\n')}`)
  }
  if (!result.success) die(`${target ?? 'host'} build failed:\n${result.logs.map((l) => `  ${describe(l)}`).join('\n')}`)
  for (const log of result.logs) process.stderr.write(`build: ${describe(log)}\n`)
  // The executable carries its own copy of the map; the loose .map beside it would only be confusing.
  for (const out of result.outputs) if (out.path.endsWith('.map')) rmSync(out.path, { force: true })
}

/** A build message as `file:line:column: message`, like a compiler prints it. */
function describe(message: unknown): string {
  const m = message as Partial<BuildMessage>
  if (typeof m?.message !== 'string') return String(message)
  const at = m.position ? `${m.position.file}:${m.position.line}:${m.position.column}: ` : ''
  return `${at}${m.message}`
}

async function writeChecksum(file: string): Promise<string> {
  const hasher = new Bun.CryptoHasher('sha256')
  for await (const chunk of Bun.file(file).stream()) hasher.update(chunk)
  const hex = hasher.digest('hex')
  // sha256sum's format, relative name, so `cd dist && sha256sum -c <file>.sha256` works.
  writeFileSync(`${file}.sha256`, `${hex}  ${basename(file)}\n`)
  return hex
}

function formatSize(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`
}

const { jobs, bytecode } = parseJobs(process.argv.slice(2))
mkdirSync(OUT_DIR, { recursive: true })
for (const job of jobs) {
  const started = performance.now()
  await compile(job, bytecode)
  let size: number
  try {
    size = statSync(job.outfile).size
  } catch {
    die(`${job.target ?? 'host'} build reported success but ${job.outfile} was not written`)
  }
  const hex = await writeChecksum(job.outfile)
  const seconds = ((performance.now() - started) / 1000).toFixed(1)
  process.stdout.write(
    `wrote ${job.outfile} (${formatSize(size)}, ${job.target ? TARGETS[job.target] : 'host'}${bytecode ? ', bytecode' : ''}, ${seconds}s)\n` +
      `wrote ${job.outfile}.sha256 (${hex.slice(0, 16)}…)\n`,
  )
}
