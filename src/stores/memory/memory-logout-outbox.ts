/** `LogoutOutbox` of a single process, on the shared `MemoryOnlineState` (memory-online-state.ts). */
import type { LogoutOutbox, PendingLogout } from '../../presence/logout-outbox.ts';
import type { DueKey, MemoryOnlineState } from './memory-online-state.ts';
import { checkCount, checkTime } from '../../presence/online-paging.ts';

export class MemoryLogoutOutbox implements LogoutOutbox {
  constructor(private readonly state: MemoryOnlineState) {}

  async claimPendingLogouts(limit: number, now: number, leaseMs: number): Promise<PendingLogout[]> {
    checkCount('limit', limit);
    checkTime('now', now);
    checkTime('leaseMs', leaseMs);
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

  async ackPendingLogouts(ids: readonly string[]): Promise<void> {
    for (const id of new Set(ids)) {
      const item = this.state.pending.get(id);
      if (!item) continue;
      this.state.dueQueue.delete({ due: item.due, id });
      this.state.pending.delete(id);
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
