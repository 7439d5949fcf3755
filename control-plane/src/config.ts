import { type Config, parseConfig, type Role } from '@wa-cluster/shared'

/** The only place the control-plane (and the all-in-one process) reads the environment. */
export function loadConfig(role: Role, env: Record<string, string | undefined> = process.env): Config {
  return parseConfig(env, role)
}
