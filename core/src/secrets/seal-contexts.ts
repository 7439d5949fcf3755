/**
 * Additional authenticated data for every sealed value, one function per kind. JSON makes each tuple
 * unambiguous even when ids contain separators, so a sealed value moved to another session, category,
 * key id or tenant fails to open. The writers and the re-seal command use these same functions.
 */
export function keySealContext(sessionId: string, category: string, keyId: string): string {
  return JSON.stringify(['auth-key', sessionId, category, keyId])
}

export function credsSealContext(sessionId: string): string {
  return JSON.stringify(['auth-creds', sessionId])
}

export function webhookSecretSealContext(tenantId: string): string {
  return `webhook:${tenantId}`
}

/** AAD of an endpoint's sealed secrets: a value copied to another endpoint or tenant does not open. */
export function endpointSealingContext(tenantId: string, endpointId: string): string {
  return `webhook-endpoint:${tenantId}:${endpointId}`
}
