// `npm run secrets:reseal`: finishes an AUTH_STATE_KEY rotation while the cluster runs. Every process
// is first restarted with the new key in AUTH_STATE_KEY and the old one in AUTH_STATE_PREVIOUS_KEYS;
// this command then re-seals every stored secret with the new key, batch by batch, logging progress,
// and says when the old key can be dropped. `--dry-run` only counts.
import { countNotCurrent, createLogger, loadConfigOrExit, resealSecrets } from '@wa-cluster/core'
import { openDatabase } from '@wa-cluster/db'
import {
  ConfigError,
  createSecretBox,
  parseConfig,
  parseSecretBoxKey,
  secretBoxKeyId,
} from '@wa-cluster/shared'

const dryRun = process.argv.includes('--dry-run')
const config = loadConfigOrExit(() => {
  const parsed = parseConfig(process.env, 'all-in-one')
  if (!parsed.DATABASE_URL)
    throw new ConfigError(
      'invalid configuration: DATABASE_URL is required; the embedded gateway re-seals by itself at start when AUTH_STATE_KEY changed',
    )
  if (!parsed.AUTH_STATE_KEY) throw new ConfigError('invalid configuration: AUTH_STATE_KEY is required')
  return parsed
})
const logger = createLogger(config, { role: 'secrets-reseal' })
const primary = parseSecretBoxKey(config.AUTH_STATE_KEY!)
const previous = config.AUTH_STATE_PREVIOUS_KEYS.map(parseSecretBoxKey)
const secretBox = createSecretBox(primary, previous)
const database = openDatabase({ url: config.DATABASE_URL!, maxConnections: 2 })

try {
  logger.info(
    { primaryKeyId: secretBox.primaryKeyId, previousKeyIds: previous.map(secretBoxKeyId), dryRun },
    're-sealing stored secrets with the primary key',
  )
  logger.info(
    { remaining: await countNotCurrent(database, secretBox) },
    'values not sealed with the primary key',
  )
  const result = await resealSecrets({
    database,
    secretBox,
    dryRun,
    onProgress: (progress) => logger.info(progress, 're-seal progress'),
  })
  for (const table of result.tables) logger.info(table, 're-sealed table')
  if (result.unreadable > 0) {
    logger.error(
      { unreadable: result.unreadable },
      'some values open with no key of the ring: keep every old key until they are found',
    )
    process.exitCode = 2
  } else if (result.remaining > 0) {
    logger.warn(
      { remaining: result.remaining },
      'values are still sealed with another key (a process still running with the old primary?); run again',
    )
    process.exitCode = dryRun ? 0 : 1
  } else {
    logger.info('every secret is sealed with the primary key: AUTH_STATE_PREVIOUS_KEYS can be emptied')
  }
} finally {
  await database.close()
}
