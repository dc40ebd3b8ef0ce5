/**
 * What one node's gateway is built from: its settings (from config.ts) and the collaborators it
 * talks to. In a file of its own so that gateway.ts and gateway-parts.ts (which composes the
 * parts from the same deps) both depend on it instead of on each other.
 */
import type { ConversationSequencer } from '../chat/conversation-sequencer.ts';
import type { Bus, BusEnvelope } from '../cluster/bus.ts';
import type { OwnerPublisher } from '../cluster/owner-publisher.ts';
import type { SessionLimits } from '../connection/session.ts';
import type { CoreLogger } from '../core-logger.ts';
import type { PlayerRepository } from '../presence/player-repository.ts';
import type { OfflineQueue } from '../delivery/offline-queue.ts';
import type { RoomDirectory } from '../delivery/room-directory.ts';
import type { LogoutPipeline } from '../presence/logout-pipeline.ts';
import type { PresenceStore } from '../presence/presence-store.ts';
import type { GroupStore } from '../chat/group-store.ts';
import type { MessageStore } from '../chat/message-store.ts';
import type { ConversationPositions } from '../chat/conversation-positions.ts';

export interface GatewaySettings extends SessionLimits {
  nodeId: string;
  sessionPolicy: 'replace' | 'multi';
  maxConnections: number;
  /** MAX_PENDING_LOGINS: logins in flight before handshakes get 503 GW_BUSY (login-admission.ts; default 128). */
  maxPendingLogins?: number;
  /** MAX_EVENT_LOOP_LAG_MS: handshakes get 503 GW_BUSY while the event loop is later than this (loop-lag.ts; 0 or absent = off). */
  maxEventLoopLagMs?: number;
  maxSessionsPerUser: number;
  maxContentBytes: number;
  heartbeatIntervalMs: number;
  heartbeatTimeoutMs: number;
  writeTimeoutMs: number;
  wsPingIntervalMs: number;
  heartbeatFlushIntervalMs: number;
  /** WATCHDOG_INTERVAL_MS: the watchdog tick; a tick later than this is a node stall (default 1000). */
  watchdogIntervalMs?: number;
  /** MAX_ROOMS_PER_SESSION (default 64). */
  maxRoomsPerSession?: number;
  /** MAX_ROOM_CHANGES_PER_SEC (default 10). */
  maxRoomChangesPerSec?: number;
  /** ROOM_FLUSH_MS (default 50). */
  roomFlushMs?: number;
  /** DELIVERY_RECEIPT_TIMEOUT_MS: how long an ack waits for other nodes' receipts (default 2000). */
  deliveryReceiptTimeoutMs?: number;
  /** HISTORY_PAGE_MAX: the default and largest page of a `history` frame (default 100). */
  historyPageMax?: number;
  /** MESSAGE_PERSISTENCE: players' direct messages are stored (with stored chat configured). */
  messagePersistence?: boolean;
  /** RECOVERY_MAX_MESSAGES: most stored messages a login is sent (default 1000). */
  recoveryMaxMessages?: number;
}

/** Stored chat: persistent groups and the messages of their conversations (absent: refused NOT_AVAILABLE). */
export interface ChatStores {
  groups: GroupStore;
  messages: MessageStore;
  positions: ConversationPositions;
  /** Numbers direct messages before they are stored (Redis); absent: the database numbers them. */
  sequencer?: ConversationSequencer | undefined;
}

export interface GatewayDeps {
  settings: GatewaySettings;
  store: PresenceStore;
  repository: PlayerRepository;
  bus: Bus;
  /** Publishes to a user's other nodes (default: a store lookup, then the bus). */
  owners?: OwnerPublisher | undefined;
  logout: LogoutPipeline;
  log: CoreLogger;
  now: () => number;
  /** Where messages to offline users wait (absent or max 0: USER_OFFLINE instead). */
  offlineQueue?: OfflineQueue | undefined;
  /** Cluster-wide room membership for the admin API (absent: not recorded). */
  roomDirectory?: RoomDirectory | undefined;
  chat?: ChatStores | undefined;
  /** Answers other nodes' stats requests (stats-exchange.ts; absent: they are ignored). */
  statsExchange?: { onMessage(envelope: BusEnvelope): boolean } | undefined;
}
