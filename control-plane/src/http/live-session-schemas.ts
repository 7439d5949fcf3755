import { z } from '@hono/zod-openapi'

// Request and response shapes of the operations on a session's live connection (chat read, presence,
// number check, groups), beside schemas.ts: the same OpenAPI document carries them.

/** Phones one contacts check may ask about (the service's MAX_CHECKED_PHONES). */
const MAX_PHONES = 50

const phoneOrJid = z.string().min(1, 'must not be empty').max(128, 'must be at most 128 characters')

export const ChatReadSchema = z
  .object({
    chatId: z.string().openapi({ description: 'The chat as a JID', example: '6281234567890@s.whatsapp.net' }),
    read: z.number().int().openapi({
      description: 'How many unread received messages got a read receipt (0 when none was unread)',
      example: 2,
    }),
  })
  .openapi('ChatRead')

export const PresenceBody = z
  .strictObject({
    chatId: phoneOrJid.openapi({
      description: 'The chat: a number in any format, `…@s.whatsapp.net`, `…@g.us` or `…@lid`',
      example: '0812 3456 7890',
    }),
    state: z
      .enum(['typing', 'recording', 'paused'], { error: "must be 'typing', 'recording' or 'paused'" })
      .openapi({
        description: '`typing`, `recording` (audio) or `paused` (stopped typing)',
        example: 'typing',
      }),
  })
  .openapi('PresenceInput')

export const PresenceSchema = z
  .object({
    chatId: z.string().openapi({ example: '6281234567890@s.whatsapp.net' }),
    state: z.enum(['typing', 'recording', 'paused']),
  })
  .openapi('Presence')

export const ContactsCheckBody = z
  .strictObject({
    phones: z
      .array(phoneOrJid)
      .min(1, 'must name at least one phone')
      .max(MAX_PHONES, `must name at most ${MAX_PHONES} phones`)
      .openapi({
        description: `1–${MAX_PHONES} numbers, each written like \`to\` of a send (\`+62 812-…\`, \`0812…\`, \`…@s.whatsapp.net\`)`,
        example: ['0812 3456 7890', '+62 813 0000 0000'],
      }),
  })
  .openapi('ContactsCheckInput')

export const ContactCheckListSchema = z
  .array(
    z
      .object({
        phone: z.string().openapi({ description: 'The number in E.164', example: '+6281234567890' }),
        jid: z.string().openapi({ example: '6281234567890@s.whatsapp.net' }),
        exists: z.boolean().openapi({ description: 'Whether the number has a WhatsApp account' }),
      })
      .openapi('ContactCheck'),
  )
  .openapi('ContactCheckList')

export const GroupListSchema = z
  .array(
    z
      .object({
        id: z
          .string()
          .openapi({ description: 'The group JID: send to it as `to`', example: '120363041234567890@g.us' }),
        subject: z.string().openapi({ example: 'Klinik Sehat staff' }),
        participants: z.number().int().openapi({ description: 'How many members it has', example: 3 }),
      })
      .openapi('Group'),
  )
  .openapi('GroupList')
