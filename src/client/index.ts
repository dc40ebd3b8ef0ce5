/**
 * Gatehouse client SDK, published as `@gatehouse/client` (packages/client): browsers and Node.
 *
 * ```ts
 * import { GatehouseClient, groupConversationId } from '@gatehouse/client';
 * // Node 22+ and browsers have a global WebSocket; on Node 20 pass `WebSocket` from the ws package.
 * const client = new GatehouseClient({ url: 'ws://localhost:3000/ws', token });
 * client.on('message', (m) => console.log(m.from, m.content));
 * await client.connect();
 * await client.sendTo('bob', { move: [1, 2] });
 * client.on('group', (m) => console.log(m.group, m.seq, m.from, m.content));
 * const { seq } = await client.sendToGroup('guild-1', 'gg');
 * const older = await client.history(groupConversationId('guild-1'), { before: seq });
 * ```
 */
export { GatehouseClient, isStopCode } from './client.ts';
export { newMessageId } from './message-id.ts';
export type * from './types.ts';
export { backoffCeiling, backoffDelay, DEFAULT_RECONNECT, type ReconnectOptions } from './backoff.ts';
export { TypedEmitter, type Listener, type ListenerErrorHandler } from './emitter.ts';
export { GatehouseError, type GatehouseErrorCode } from './errors.ts';
export { CloseCode, closeAdvice, NO_RECONNECT_CODES, type CloseAdvice } from '../protocol/close-codes.ts';
export { FrameErrorCode } from '../protocol/error-codes.ts';
export { directConversationId, groupConversationId } from '../protocol/conversation-ids.ts';
export type {
  ClientFrame,
  ClientGroupFrame,
  ClientHistoryFrame,
  ServerAckFrame,
  ServerBroadcastFrame,
  ServerConnectedFrame,
  ServerErrorFrame,
  ServerFrame,
  ServerGroupFrame,
  ServerHistoryFrame,
  ServerJoinedFrame,
  ServerKickedFrame,
  ServerLeftFrame,
  ServerMessageFrame,
  ServerPongFrame,
  ServerReconnectFrame,
  ServerRecoveredFrame,
  ServerRoomFrame,
  StoredMessageView,
} from '../protocol/frame-types.ts';
