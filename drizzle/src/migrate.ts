// `npm run db:migrate`: applies the generated migrations to DATABASE_URL (or the embedded PGlite in DATA_DIR).
import { openDatabase } from './client.js'

const url = process.env.DATABASE_URL
const dataDir = process.env.DATA_DIR ?? './.wa-cluster'
const handle = url ? openDatabase({ url, maxConnections: 1 }) : openDatabase({ dataDir: `${dataDir}/pgdata` })
try {
  await handle.migrate()
  console.log(
    JSON.stringify({ msg: 'migrations applied', target: url ? 'postgres' : `pglite:${dataDir}/pgdata` }),
  )
} catch (error) {
  console.error(`migration failed: ${(error as Error).message}`)
  process.exitCode = 1
} finally {
  await handle.close()
}
