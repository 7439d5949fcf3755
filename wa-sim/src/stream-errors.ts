import type { BinaryNode } from '@whiskeysockets/baileys'

// The final nodes the server sends before it closes a socket. What Baileys reports for each is in
// docs/WA-SIM.md ("Faults and what Baileys reports") and wa-protocol.md §5.

/** `<failure reason=N/>` refuses a login; Baileys reports N (401 means logged out). */
export function loginFailure(reason: string): BinaryNode {
  return { tag: 'failure', attrs: { reason, location: 'sim' } }
}

/** A newer login took the device over: 440 on the older socket. */
export function conflictReplaced(): BinaryNode {
  return { tag: 'stream:error', attrs: {}, content: [{ tag: 'conflict', attrs: { type: 'replaced' } }] }
}

/** The phone unlinked the device: 401, so the client logs out. */
export function deviceRemoved(): BinaryNode {
  return {
    tag: 'stream:error',
    attrs: { code: '401' },
    content: [{ tag: 'conflict', attrs: { type: 'device_removed' } }],
  }
}

/** Pairing finished: 515, and the client reconnects with its new credentials. */
export function restartRequired(): BinaryNode {
  return { tag: 'stream:error', attrs: { code: '515' } }
}

/** 500: any stream:error child other than conflict. */
export function systemShutdown(): BinaryNode {
  return { tag: 'stream:error', attrs: {}, content: [{ tag: 'system-shutdown', attrs: {} }] }
}
