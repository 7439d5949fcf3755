import { parseArgs } from 'node:util'
import type { LogLevel } from './logger.js'

/** Start-up options of the standalone simulator, parsed once from the command line. */
export interface SimConfig {
  /** TCP port; 0 picks a free one. */
  port: number
  /** Interface to bind; default 127.0.0.1. */
  host: string
  /** Where accounts and keys are persisted; none keeps everything in memory. */
  stateFile?: string
  /** Whether the simulated phone sends app-state keys and an inline history sync after the first login. */
  phoneBootstrap: boolean
  /** Log level of the JSON logs on stderr. */
  logLevel: LogLevel
}

const LOG_LEVELS: readonly LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']

/** Parses `--port N [--host H] [--state-file P] [--no-bootstrap] [--log-level L]`; throws one readable line. */
export function parseSimConfig(argv: string[]): SimConfig {
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: 'string', default: '0' },
      host: { type: 'string', default: '127.0.0.1' },
      'state-file': { type: 'string' },
      'no-bootstrap': { type: 'boolean', default: false },
      'log-level': { type: 'string', default: 'info' },
    },
    allowPositionals: false,
    strict: true,
  })
  const port = Number(values.port)
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new Error(`--port must be 0..65535, got ${values.port}`)
  const logLevel = values['log-level'] as LogLevel
  if (!LOG_LEVELS.includes(logLevel)) throw new Error(`--log-level must be one of ${LOG_LEVELS.join(', ')}`)
  return {
    port,
    host: values.host,
    stateFile: values['state-file'],
    phoneBootstrap: !values['no-bootstrap'],
    logLevel,
  }
}
