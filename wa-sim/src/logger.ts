import type { ILogger } from '@whiskeysockets/baileys/lib/Utils/logger.js'

/** Log levels in pino's numbering, so the output reads like every other service's pino JSON. */
const LEVELS = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Infinity } as const

export type LogLevel = keyof typeof LEVELS

/**
 * A pino-compatible JSON line logger writing to stderr.
 * Why not pino itself: it is not a dependency of this workspace, and stdout must stay free for the one
 * start-up JSON line the CLI prints.
 */
export class SimLogger implements ILogger {
  constructor(
    public level: LogLevel = 'info',
    private readonly bindings: Record<string, unknown> = {},
    private readonly write: (line: string) => void = (line) => process.stderr.write(line),
  ) {}

  child(bindings: Record<string, unknown>): SimLogger {
    return new SimLogger(this.level, { ...this.bindings, ...bindings }, this.write)
  }

  trace(obj: unknown, msg?: string): void {
    this.log('trace', obj, msg)
  }
  debug(obj: unknown, msg?: string): void {
    this.log('debug', obj, msg)
  }
  info(obj: unknown, msg?: string): void {
    this.log('info', obj, msg)
  }
  warn(obj: unknown, msg?: string): void {
    this.log('warn', obj, msg)
  }
  error(obj: unknown, msg?: string): void {
    this.log('error', obj, msg)
  }

  private log(level: LogLevel, obj: unknown, msg?: string): void {
    if (LEVELS[level] < LEVELS[this.level]) return
    const fields =
      typeof obj === 'object' && obj !== null ? (obj as Record<string, unknown>) : { msg: String(obj) }
    const line = {
      level: LEVELS[level],
      time: Date.now(),
      name: 'wa-sim',
      ...this.bindings,
      ...fields,
      msg: msg ?? fields.msg,
    }
    this.write(`${JSON.stringify(line, jsonSafe)}\n`)
  }
}

function jsonSafe(_key: string, value: unknown): unknown {
  if (value instanceof Error) return { message: value.message, stack: value.stack }
  if (value instanceof Uint8Array) return `<${value.byteLength} bytes>`
  if (typeof value === 'bigint') return value.toString()
  return value
}
