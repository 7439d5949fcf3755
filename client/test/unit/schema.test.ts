import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { SCHEMA_FILE, schemaSource } from '../../scripts/schema-source.js'

/** The 1-based line where two texts first differ, or undefined when they are equal. */
function firstDifferentLine(committed: string, generated: string): number | undefined {
  const committedLines = committed.split('\n')
  const generatedLines = generated.split('\n')
  const length = Math.max(committedLines.length, generatedLines.length)
  for (let index = 0; index < length; index++) {
    if (committedLines[index] !== generatedLines[index]) return index + 1
  }
  return undefined
}

describe('generated schema', () => {
  it('src/schema.d.ts is what the current routes generate (else run `npm run client:generate`)', async () => {
    const committed = readFileSync(SCHEMA_FILE, 'utf8')
    const generated = await schemaSource()
    const line = firstDifferentLine(committed, generated)
    expect(
      line,
      `src/schema.d.ts is stale from line ${line}: run \`npm run client:generate\``,
    ).toBeUndefined()
  }, 120_000)
})
