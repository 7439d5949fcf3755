import { randomBytes } from 'node:crypto'
import { createSecretBox } from '@wa-cluster/shared'
import { describe, expect, it } from 'vitest'
import { openClaims, sealClaims } from '../../src/services/sealed-claims.js'

const kind = { prefix: 'tst_', context: 'test-token:v1' }
const ctx = { secretBox: createSecretBox(randomBytes(32)) }

describe('sealed claims', () => {
  it('opens what it sealed, and nothing altered, foreign or of another kind', () => {
    const token = sealClaims(ctx, kind, { sessionId: 'ses_1', expiresAt: 1 })
    expect(token.startsWith('tst_')).toBe(true)
    expect(openClaims(ctx, kind, token)).toEqual({ sessionId: 'ses_1', expiresAt: 1 })

    const body = token.slice(kind.prefix.length)
    const flipped = `${body.slice(0, 10)}${body[10] === 'A' ? 'B' : 'A'}${body.slice(11)}`
    expect(openClaims(ctx, kind, `tst_${flipped}`)).toBeUndefined()
    // A trailing character the decoder would drop is not the token either.
    expect(openClaims(ctx, kind, `${token}x`)).toBeUndefined()
    expect(openClaims(ctx, kind, `${token}=`)).toBeUndefined()
    expect(openClaims(ctx, { ...kind, context: 'other:v1' }, token)).toBeUndefined()
    expect(openClaims(ctx, { ...kind, prefix: 'oth_' }, token)).toBeUndefined()
    expect(openClaims({ secretBox: createSecretBox(randomBytes(32)) }, kind, token)).toBeUndefined()
    expect(openClaims(ctx, kind, 'tst_')).toBeUndefined()
    expect(openClaims(ctx, kind, `tst_${'A'.repeat(5000)}`)).toBeUndefined()
  })
})
