// Rewrites src/schema.d.ts from the control-plane's routes (`npm run generate -w @wa-cluster/client`).
import { writeFileSync } from 'node:fs'
import { SCHEMA_FILE, schemaSource } from './schema-source.js'

writeFileSync(SCHEMA_FILE, await schemaSource())
console.log(`wrote ${SCHEMA_FILE}`)
