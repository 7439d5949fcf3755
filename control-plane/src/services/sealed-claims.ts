import type { ControlPlaneContext } from '../context.js'

/**
 * Bearer tokens that carry their own claims: JSON sealed with the secret box (AES-256-GCM) under a
 * context of their own, behind a readable prefix. Nobody can forge or alter one without
 * AUTH_STATE_KEY, which every control-plane shares, so nothing is stored and any control-plane opens
 * them; a token of one kind never opens as another (the context differs). Stream tokens and link
 * tokens are both made here.
 */

/** Longest token accepted: a larger one is not ours, and is refused before any decryption. */
const MAX_TOKEN_LENGTH = 4096

export type SealedTokenKind = { prefix: string; context: string }

export function sealClaims(
  ctx: Pick<ControlPlaneContext, 'secretBox'>,
  kind: SealedTokenKind,
  claims: object,
): string {
  const sealed = ctx.secretBox.seal(Buffer.from(JSON.stringify(claims)), kind.context)
  return `${kind.prefix}${sealed.toString('base64url')}`
}

/** The claims of a token of this kind, or undefined when it is malformed, forged or altered. */
export function openClaims(
  ctx: Pick<ControlPlaneContext, 'secretBox'>,
  kind: SealedTokenKind,
  token: string,
): Record<string, unknown> | undefined {
  if (!token.startsWith(kind.prefix) || token.length > MAX_TOKEN_LENGTH) return undefined
  const encoded = token.slice(kind.prefix.length)
  const sealed = Buffer.from(encoded, 'base64url')
  // The decoder skips stray characters: only the one spelling we issue is the token.
  if (sealed.toString('base64url') !== encoded) return undefined
  try {
    const opened = ctx.secretBox.open(sealed, kind.context)
    const claims: unknown = JSON.parse(opened.toString('utf8'))
    return claims && typeof claims === 'object' ? (claims as Record<string, unknown>) : undefined
  } catch {
    return undefined
  }
}
