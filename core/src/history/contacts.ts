import { type DatabaseHandle, resultRows } from '@wa-cluster/db'
import { sql } from 'drizzle-orm'

// A session's contacts (`contacts`): one row per person, under the phone-number JID when WhatsApp
// gave one, with the LID beside it once the mapping is known.

/** What WhatsApp told about a contact; an absent field leaves the stored value alone. */
export type ContactInfo = {
  /** `…@s.whatsapp.net` when known. */
  phoneJid?: string
  /** `…@lid` when known. */
  lid?: string
  pushName?: string
  savedName?: string
}

/**
 * Upserts contacts (names, and LID↔phone mappings: a contact with both JIDs), fenced by the owner's
 * epoch. A person first known by LID alone and then mapped to a phone number ends as one row, under
 * the phone number, keeping the names it had. Returns how many rows it wrote.
 */
export async function recordContacts(
  database: DatabaseHandle,
  input: { sessionId: string; epoch: number; contacts: ContactInfo[] },
): Promise<number> {
  // One row per key: Postgres refuses to upsert the same row twice in a statement.
  const byKey = new Map<string, ContactInfo>()
  for (const contact of input.contacts) {
    const key = contact.phoneJid ?? contact.lid
    if (!key) continue
    const known = byKey.get(key)
    byKey.set(key, { ...known, ...definedFields(contact) })
  }
  if (byKey.size === 0) return 0
  const rows = [...byKey].map(([jid, contact]) => ({
    jid,
    lid: contact.lid ?? null,
    push_name: contact.pushName ?? null,
    saved_name: contact.savedName ?? null,
  }))
  return database.db.transaction(async (tx) => {
    const written = resultRows<{ jid: string }>(
      await tx.execute(sql`
      WITH session AS (
        SELECT tenant_id FROM sessions WHERE id = ${input.sessionId} AND epoch = ${input.epoch}
      )
      INSERT INTO contacts AS c (session_id, tenant_id, jid, lid, push_name, saved_name)
      SELECT ${input.sessionId}, session.tenant_id, r.jid, r.lid, r.push_name, r.saved_name
      FROM session CROSS JOIN jsonb_to_recordset(${JSON.stringify(rows)}::jsonb)
        AS r (jid text, lid text, push_name text, saved_name text)
      ON CONFLICT (session_id, jid) DO UPDATE SET lid = COALESCE(EXCLUDED.lid, c.lid),
        push_name = COALESCE(EXCLUDED.push_name, c.push_name),
        saved_name = COALESCE(EXCLUDED.saved_name, c.saved_name), updated_at = now()
      RETURNING jid`),
    )
    // A row kept under a LID whose phone number is now known folds into the phone number's row.
    await tx.execute(sql`
      WITH folded AS (
        UPDATE contacts p SET push_name = COALESCE(p.push_name, l.push_name),
          saved_name = COALESCE(p.saved_name, l.saved_name), updated_at = now()
        FROM contacts l
        WHERE p.session_id = ${input.sessionId} AND l.session_id = ${input.sessionId}
          AND l.jid LIKE '%@lid' AND p.lid = l.jid AND p.jid <> l.jid
        RETURNING l.jid
      )
      DELETE FROM contacts WHERE session_id = ${input.sessionId} AND jid IN (SELECT jid FROM folded)`)
    return written.length
  })
}

function definedFields(contact: ContactInfo): ContactInfo {
  return Object.fromEntries(Object.entries(contact).filter(([, value]) => value !== undefined))
}
