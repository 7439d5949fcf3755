import { readFileSync } from 'node:fs'
import { rename, writeFile } from 'node:fs/promises'
import { BufferJSON } from '@whiskeysockets/baileys'
import type { Account } from './account-registry.js'
import type { ServerIdentity } from './server-identity.js'

/** Everything that must survive a restart for existing Baileys creds to stay valid. */
export interface PersistedState {
  version: 1
  identity: ServerIdentity
  accounts: Account[]
}

/** Reads the state file; undefined when it does not exist yet. */
export function readStateFile(path: string): PersistedState | undefined {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
  const state = JSON.parse(text, BufferJSON.reviver) as PersistedState
  if (state.version !== 1) throw new Error(`${path}: unsupported state version ${String(state.version)}`)
  return state
}

/**
 * Debounced, atomic writer: many changes in a burst (a pairing uploads keys, a message touches a
 * session) become one write, and a crash mid-write leaves the previous file intact (tmp + rename).
 */
export class StateFileWriter {
  private timer: NodeJS.Timeout | undefined
  private writing: Promise<void> = Promise.resolve()

  constructor(
    private readonly path: string,
    private readonly snapshot: () => PersistedState,
    private readonly debounceMs = 250,
    private readonly onError: (err: unknown) => void = () => {},
  ) {}

  /** Schedules a write; repeated calls within the debounce window coalesce. */
  schedule(): void {
    if (this.timer) return
    this.timer = setTimeout(() => {
      this.timer = undefined
      void this.write()
    }, this.debounceMs)
  }

  /** Writes now (pending debounce included) and waits for it. */
  async flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer)
      this.timer = undefined
    }
    await this.write()
  }

  private write(): Promise<void> {
    this.writing = this.writing.then(async () => {
      try {
        const tmp = `${this.path}.${process.pid}.tmp`
        await writeFile(tmp, JSON.stringify(this.snapshot(), BufferJSON.replacer))
        await rename(tmp, this.path)
      } catch (err) {
        this.onError(err)
      }
    })
    return this.writing
  }
}
