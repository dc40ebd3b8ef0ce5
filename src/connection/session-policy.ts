/**
 * Who gives way when a user logs in again: with `replace`, every older session of the user
 * (here and on other nodes) closes with 4001; with `multi`, the oldest local session gives way
 * once the user is over MAX_SESSIONS_PER_USER. "Older" is judged by epoch only: the store hands
 * out epochs in login order, but its answers may reach this node in any order, so a local
 * session still logging in (epoch 0) may turn out to be the newer one. Such a session is never
 * closed on a guess; it is marked (`replacedBelow`) and judged when its own login completes.
 */
import type { Bus } from '../cluster/bus.ts';
import { CloseCode, closeReason } from '../protocol/close-codes.ts';
import type { ConnectionManager } from './connection-manager.ts';
import type { CoreLogger } from '../core-logger.ts';
import type { EndReason, Session } from './session.ts';

export interface SessionPolicyDeps {
  nodeId: string;
  policy: 'replace' | 'multi';
  maxSessionsPerUser: number;
  connections: ConnectionManager;
  bus: Bus;
  log: CoreLogger;
}

export class SessionPolicy {
  constructor(private readonly deps: SessionPolicyDeps) {}

  /**
   * `session` has just logged in with its epoch; `previousNodes` counts the user's other
   * connections by node, as the store saw them before this login.
   */
  enforce(session: Session, previousNodes: Record<string, number>): void {
    if (session.epoch < session.replacedBelow) {
      // A newer login of the user completed first and replaced this one while it was pending.
      session.close(CloseCode.REPLACED, closeReason(CloseCode.REPLACED), 'replaced');
      return;
    }
    if (this.deps.policy === 'replace') this.replaceOlder(session, previousNodes);
    else this.enforceCap(session, previousNodes);
  }

  private replaceOlder(session: Session, previousNodes: Record<string, number>): void {
    const { nodeId, bus, log } = this.deps;
    for (const other of this.deps.connections.sessionsOf(session.userId) ?? []) {
      if (other === session) continue;
      if (other.epoch === 0) other.replacedBelow = Math.max(other.replacedBelow, session.epoch);
      else if (other.epoch < session.epoch) other.close(CloseCode.REPLACED, closeReason(CloseCode.REPLACED), 'replaced');
    }
    for (const [otherNode, count] of Object.entries(previousNodes)) {
      if (otherNode === nodeId || count <= 0) continue;
      bus
        .publish(otherNode, { kind: 'kick', userId: session.userId, beforeEpoch: session.epoch, code: CloseCode.REPLACED, reason: 'replaced' })
        .catch((error: unknown) => log.warn({ userId: session.userId, nodeId: otherNode, err: (error as Error).message }, 'replace notice not sent'));
    }
  }

  /** Multi: over the cap, the oldest local session gives way (a new device wins, like replace). */
  private enforceCap(session: Session, previousNodes: Record<string, number>): void {
    let total = 1;
    for (const count of Object.values(previousNodes)) total += count;
    if (total <= this.deps.maxSessionsPerUser) return;
    let oldest: Session | undefined;
    let pending: Session | undefined;
    for (const other of this.deps.connections.sessionsOf(session.userId) ?? []) {
      if (other === session || other.state === 'closing' || other.state === 'closed') continue;
      if (other.epoch === 0) pending ??= other;
      else if (other.epoch < session.epoch && (!oldest || other.epoch < oldest.epoch)) oldest = other;
    }
    if (oldest) oldest.close(CloseCode.REPLACED, closeReason(CloseCode.REPLACED), 'replaced');
    // Only sessions still logging in are left here: the first one gives way if it turns out older.
    else if (pending) pending.replacedBelow = Math.max(pending.replacedBelow, session.epoch);
  }

  /**
   * Closes this node's sessions of a user (REST logout, kick from another node). With a finite
   * `beforeEpoch` (a newer login elsewhere replaces these), only sessions of a lower epoch close;
   * one still logging in (epoch 0) is marked instead and judged when its login completes.
   */
  closeUser(userId: string, code: CloseCode, reason: EndReason, beforeEpoch = Infinity): number {
    let closed = 0;
    for (const session of this.deps.connections.sessionsOf(userId) ?? []) {
      if (session.epoch === 0 && beforeEpoch !== Infinity) {
        session.replacedBelow = Math.max(session.replacedBelow, beforeEpoch);
        continue;
      }
      if (session.epoch >= beforeEpoch) continue;
      session.close(code, closeReason(code), reason);
      closed++;
    }
    return closed;
  }
}
