/** The server's own jid: the `from` of every iq, notification and ib the simulator sends. */
export const SERVER = 's.whatsapp.net'

let tagCounter = 0

/** An id for a stanza the server starts (iq, notification); unique within a run. */
export function messageTag(): string {
  tagCounter = (tagCounter + 1) % 1_000_000
  return `sim-${Date.now().toString(36)}-${tagCounter}`
}

/** The `t` attribute: seconds since the epoch. */
export function unixNow(): string {
  return String(Math.floor(Date.now() / 1000))
}
