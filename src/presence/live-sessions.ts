/**
 * What this node holds, as the online store needs it to re-assert the node's share after Redis
 * lost it (a restart, a failover): one entry per user, for the user's current logical session.
 */
import type { ReassertSession } from '../cluster/node-registry.ts';
import type { ConnectionManager } from '../connection/connection-manager.ts';
import type { Session } from '../connection/session.ts';

export function liveSessionsByUser(connections: ConnectionManager): ReassertSession[] {
  const entries: ReassertSession[] = [];
  for (const userId of connections.users()) {
    const open = [...(connections.sessionsOf(userId) ?? [])].filter((s) => s.isOpen && s.logicalSessionId);
    const newest = open.reduce<Session | undefined>((a, s) => (!a || s.epoch > a.epoch ? s : a), undefined);
    if (!newest) continue;
    // Connections of an older logical session (not yet closed) are not re-asserted.
    const current = open.filter((s) => s.logicalSessionId === newest.logicalSessionId);
    entries.push({
      userId,
      username: newest.username,
      logicalSessionId: newest.logicalSessionId,
      epoch: newest.epoch,
      connectedAt: Math.min(...current.map((s) => s.connectedAt)),
      connections: current.length,
      connectionIds: current.map((s) => s.id),
    });
  }
  return entries;
}
