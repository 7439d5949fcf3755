import type { DesiredState, NodeStatus, SessionState } from '@wa-cluster/shared'
import { bigint, index, integer, pgTable, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core'
import { tenants } from './tenants.js'

export const sessions = pgTable(
  'sessions',
  {
    id: text('id').primaryKey(),
    tenantId: text('tenant_id')
      .notNull()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    /** The tenant's own key for this session (its customer id…), unique within the tenant; optional. */
    externalId: text('external_id'),
    /** Current state (SessionState), written by the owning node. */
    state: text('state').$type<SessionState>().notNull().default('DISCONNECTED'),
    /** What the tenant asked for; nodes reconcile towards it. */
    desiredState: text('desired_state').$type<DesiredState>().notNull().default('disconnected'),
    /** Placement: the node this session is assigned to (source of truth; Redis only nudges). */
    nodeId: text('node_id'),
    /** The node that last held the session; placement prefers it (sticky). */
    lastNodeId: text('last_node_id'),
    /** Fencing token: incremented by every new owner; every owner write carries it. */
    epoch: bigint('epoch', { mode: 'number' }).notNull().default(0),
    phone: text('phone'),
    /** Phone number for pairing-code linking, when the tenant asked for a code instead of a QR. */
    pairingPhone: text('pairing_phone'),
    qr: text('qr'),
    /** The QR as a PNG data URL, rendered once by the owner when it wrote `qr`. */
    qrImage: text('qr_image'),
    qrExpiresAt: timestamp('qr_expires_at', { withTimezone: true }),
    pairingCode: text('pairing_code'),
    reason: text('reason'),
    /** Per-session event sequence; the outbox takes the next value in the same statement. */
    lastSeq: bigint('last_seq', { mode: 'number' }).notNull().default(0),
    connectedAt: timestamp('connected_at', { withTimezone: true }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [
    index('sessions_tenant_idx').on(table.tenantId),
    index('sessions_node_idx').on(table.nodeId),
    uniqueIndex('sessions_external_id_idx').on(table.tenantId, table.externalId),
  ],
)

/** Session-node processes. Liveness comes from the coordinator's heartbeat; this row keeps what must survive it. */
export const nodes = pgTable('nodes', {
  id: text('id').primaryKey(),
  status: text('status').$type<NodeStatus>().notNull().default('active'),
  capacity: integer('capacity').notNull(),
  startedAt: timestamp('started_at', { withTimezone: true }).notNull().defaultNow(),
  lastHeartbeatAt: timestamp('last_heartbeat_at', { withTimezone: true }).notNull().defaultNow(),
})
