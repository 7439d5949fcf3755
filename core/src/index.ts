// @wa-cluster/core: what the control-plane and the session-node share. Curated: a name is exported
// here only when a process package uses it.

// Coordination (Redis or in-process): leases, locks, nudges, node heartbeats, rate limits. `withLock`
// throws LockBusy, a class of the shared error family so the API maps it like any other error.
export { LockBusy } from '@wa-cluster/shared'
// Broadcasts: their counts and progress events (API reads, owners report).
export {
  BROADCAST_CANCELLED_ERROR,
  broadcastProgressData,
  DAILY_SENDS_WINDOW_MS,
  readBroadcastCounts,
} from './broadcasts/broadcast-progress.js'
export type {
  Coordinator,
  Lease,
  LeaseOptions,
  NodeHeartbeat,
  Unsubscribe,
} from './coordination/coordinator.js'
export { coordinationKeys } from './coordination/keys.js'
export { createMemoryCoordinator } from './coordination/memory-coordinator.js'
export { createRedisCoordinator, type RedisCoordinatorOptions } from './coordination/redis-coordinator.js'
export { publishSessionChange, subscribeSessionChanges } from './coordination/session-changes.js'
export {
  type GroupSummary,
  type NumberCheck,
  type PresenceState,
  requestSessionCommand,
  type SessionCommand,
  type SessionCommandHandler,
  SessionCommandRefused,
  type SessionCommandResult,
  SessionCommandTimeout,
  serveSessionCommands,
} from './coordination/session-commands.js'

// The outbox: append (owners), read model and redelivery (API), envelopes (dispatcher).
export {
  type AppendResult,
  type AppendTarget,
  appendAndClaimEvents,
  appendAndClaimEventsInTransaction,
  appendEvent,
  appendEvents,
  type ClaimedEventRow,
  type DeliveryStatus,
  type EventPage,
  getEvent,
  type ListedEvent,
  listEvents,
  type NewEvent,
  type ReceivedMessageRow,
  redeliverEvents,
  type SqlExecutor,
  toEventEnvelope,
} from './events/outbox.js'
// The outbox in commit-safe order, for live streams.
export {
  compareOutboxPositions,
  currentOutboxPosition,
  OUTBOX_ANNOUNCE_CHANNEL,
  type OutboxPosition,
  outboxPositionOf,
  type PositionedEvent,
  parseOutboxAnnouncement,
  readOutboxAfter,
} from './events/outbox-positions.js'
// A session's chats and contacts, as WhatsApp describes them and the traffic moves them.
export { recordChatRead, type UnreadMessage, unreadMessagesOf } from './history/chat-reads.js'
export { type ChatInfo, moveChatsForSent, recordChats } from './history/chats.js'
export { type ContactInfo, recordContacts } from './history/contacts.js'
// Media files: outbound ones stored in pieces until sent, received ones downloaded from WhatsApp.
export {
  deleteBroadcastMediaChunks,
  deleteEndedBroadcastMediaChunks,
  deleteMediaChunks,
  deleteSettledMediaChunks,
  MEDIA_CHUNK_BYTES,
  MediaTooLarge,
  mediaChunksExist,
  readMediaChunks,
  type StoredMediaFile,
  writeMediaChunks,
} from './media/media-chunks.js'
export {
  createWhatsAppMediaAgent,
  decryptingStream,
  downloadWhatsAppMedia,
  MediaDownloadFailed,
  mediaCaPem,
  mediaDownloadUrl,
} from './media/whatsapp-media.js'
export { metadataField } from './messages/message-metadata.js'
// Retention: message bodies older than the tenant's retention, deleted in batches.
export {
  deleteExpiredMessageEvents,
  deleteExpiredMessages,
  type RetentionCutoff,
  retentionCutoffs,
} from './messages/retention.js'
// Outbound messages nobody can send.
export { failStaleQueuedSends } from './messages/stale-sends.js'
// The outbound guard (SSRF): tenant-supplied URLs reach only public addresses unless the operator allows.
export {
  checkOutboundUrl,
  classifyAddress,
  classifyHostname,
  createOutboundAgent,
  createOutboundPolicy,
  type HostResolver,
  type OutboundAgentOptions,
  type OutboundPolicy,
  type OutboundRefusal,
  OutboundTargetRefused,
  outboundRefusalOf,
} from './net/outbound-target.js'

// The `nodes` table.
export {
  activateDrainingNode,
  listRegisteredNodes,
  markNodesDead,
  type RegisteredNode,
  recordNodeHeartbeat,
  registerNode,
  runningNodes,
  setNodeStatus,
} from './nodes/node-registry.js'
// Placement: choosing nodes, assigning, handing over, evacuating; rebalance planning.
export { evacuateNode } from './placement/evacuation.js'
export {
  type HandOver,
  type HandOverOutcome,
  handOverSession,
  handOverSessions,
} from './placement/hand-over.js'
export {
  chooseNode,
  loadPlaceableNodes,
  type NodeLoad,
  type NodeNudge,
  nudgeNode,
  type PlaceSessionInput,
  placeSession,
} from './placement/placement.js'
export { type NodeAssignment, type PlannedMove, planRebalance } from './placement/rebalance.js'

// Runtime kit every entry point is built from.
export { httpOrigin, type MetricsServer, registeredMetric, serveMetrics } from './runtime/metrics.js'
export {
  createLogger,
  createRuntimeBase,
  generateNodeId,
  loadConfigOrExit,
  onShutdownSignal,
  type RuntimeBase,
} from './runtime/runtime.js'
// Sealed secrets: the AAD of every kind, and the online re-seal that finishes a key rotation.
export {
  countNotCurrent,
  type ResealProgress,
  type ResealResult,
  resealSecrets,
} from './secrets/reseal.js'
export {
  credsSealContext,
  endpointSealingContext,
  keySealContext,
  webhookSecretSealContext,
} from './secrets/seal-contexts.js'

// The `sessions` row and the credentials fence.
export { credentialsExist, deleteCredentials, SESSION_FENCE } from './sessions/credentials.js'
export {
  assignmentsFor,
  assignSession,
  bumpEpoch,
  connectedSessionsOn,
  countTenantSessions,
  deleteTenantSession,
  findSession,
  findTenantSession,
  insertSession,
  insertSessionWithinLimit,
  listTenantSessions,
  orphanedSessionIds,
  pageNodeSessions,
  pageTenantSessions,
  RELEASING_STATES,
  readEpoch,
  readPlacement,
  recordOwnerLost,
  recordSessionState,
  type SessionPlacement,
  type SessionRow,
  type StateChange,
  sessionIdsOnNode,
  setDesiredState,
  settleWithoutOwner,
} from './sessions/session-store.js'

// Endpoint deliveries: the request they send and how their secrets are sealed.
export {
  endpointRequestHeaders,
  RESERVED_WEBHOOK_HEADERS,
} from './webhooks/endpoint-request.js'

// Standard Webhooks signing, and the one guarded POST every webhook request goes through.
export {
  describeWebhookFailure,
  describeWebhookStatus,
  postWebhook,
  type WebhookPostResult,
} from './webhooks/post-webhook.js'
export {
  generateWebhookSecret,
  hubSignature256,
  signWebhook,
  type WebhookSignatureHeaders,
} from './webhooks/signature.js'
