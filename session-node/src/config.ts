import { type Config, parseConfig } from '@wa-cluster/shared'

/** The only place a session-node process reads the environment. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  return parseConfig(env, 'session-node')
}
