/**
 * `LogoutOutbox` of a single process, on the shared `MemoryOnlineState` (memory-online-state.ts).
 * An ack starts the expiry of the acked users' offline entries; claims and acks (the writer
 * polls every second) also sweep the entries whose expiry passed.
 */
import type { LogoutOutbox, PendingLogout, WrittenLogout } from '../../presence/logout-outbox.ts';
import type { DueKey, MemoryOnlineState } from './memory-online-state.ts';
import { checkCount, checkTime } from '../../presence/online-paging.ts';

export class MemoryLogoutOutbox implements LogoutOutbox {
  constructor(private readonly state: MemoryOnlineState) {}

  async claimPendingLogouts(limit: number, now: number, leaseMs: number): Promise<PendingLogout[]> {
    checkCount('limit', limit);
    checkTime('now', now);
    checkTime('leaseMs', leaseMs);
    this.state.sweepExpired();
    const due: DueKey[] = [];
    for (const key of this.state.dueQueue.valuesAfter()) {
      if (key.due > now || due.length === limit) break;
      due.push(key);
    }
    return due.map((key) => {
      const item = this.state.pending.get(key.id)!;
      this.state.reschedule(key.id, item, now + leaseMs);
      return { id: key.id, record: { ...item.record }, attempts: item.attempts };
    });
  }

  async ackPendingLogouts(written: readonly WrittenLogout[]): Promise<void> {
    this.state.sweepExpired();
    for (const { id, record } of written) {
      const item = this.state.pending.get(id);
      if (item) {
        this.state.dueQueue.delete({ due: item.due, id });
        this.state.pending.delete(id);
      }
      this.state.expireOffline(record.userId, id, record.nodeId);
    }
  }

  async retryPendingLogouts(ids: readonly string[], retryAt: number): Promise<void> {
    checkTime('retryAt', retryAt);
    for (const id of new Set(ids)) {
      const item = this.state.pending.get(id);
      if (!item) continue;
      this.state.reschedule(id, item, retryAt);
      item.attempts += 1;
    }
  }

  async countPendingLogouts(): Promise<number> {
    return this.state.pending.size;
  }
}
