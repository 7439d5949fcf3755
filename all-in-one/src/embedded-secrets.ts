import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { generateSecretBoxKey } from '@wa-cluster/shared'

export type EmbeddedSecrets = { adminApiKey: string; authStateKey: string }

/**
 * Embedded mode generates the operator key and the credential-sealing key on first start and keeps
 * them in DATA_DIR/secrets.json (mode 0600), so a restart finds the same tenants and can still open
 * the stored credentials. Values given in the environment win.
 */
export function loadEmbeddedSecrets(
  dataDir: string,
  given: Partial<EmbeddedSecrets>,
): EmbeddedSecrets & { generated: boolean } {
  mkdirSync(dataDir, { recursive: true })
  const file = join(dataDir, 'secrets.json')
  const stored: Partial<EmbeddedSecrets> = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : {}
  const secrets = {
    adminApiKey:
      given.adminApiKey ?? stored.adminApiKey ?? `wak_admin_${randomBytes(24).toString('base64url')}`,
    authStateKey: given.authStateKey ?? stored.authStateKey ?? generateSecretBoxKey(),
  }
  const generated = secrets.adminApiKey !== stored.adminApiKey || secrets.authStateKey !== stored.authStateKey
  if (generated) writeFileSync(file, `${JSON.stringify(secrets, null, 2)}\n`, { mode: 0o600 })
  return { ...secrets, generated }
}
