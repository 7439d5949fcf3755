// Writes the API's OpenAPI document to the file named on the command line (for `npm run lint:openapi`).
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { apiDocument } from './schema-source.js'

const target = process.argv[2]
if (!target) {
  console.error('usage: write-openapi.ts <output.json>')
  process.exit(2)
}
const path = resolve(target)
mkdirSync(dirname(path), { recursive: true })
writeFileSync(path, `${JSON.stringify(apiDocument(), null, 2)}\n`)
console.log(`wrote ${path}`)
