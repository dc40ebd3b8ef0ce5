/**
 * The memory store's equivalent of PEXPIRE on offline players' hashes: when each offline user's
 * entry is due for removal, in a queue ordered by that time, so a sweep reads only the entries
 * that are due (a peek at the head when none is) and never walks every user.
 */
import { compareCodePoints } from '../../presence/code-point-order.ts';
import { SortedList } from './sorted-list.ts';

interface Due {
  at: number;
  userId: string;
}

const compareDue = (a: Due, b: Due): number => a.at - b.at || compareCodePoints(a.userId, b.userId);

export class OfflineExpiry {
  private readonly queue = new SortedList<Due>(compareDue);
  /** userId -> when their entry goes (the queue's key for that user). */
  private readonly dueAt = new Map<string, number>();

  /** Entries scheduled and not yet taken or cancelled. */
  get size(): number {
    return this.dueAt.size;
  }

  /** When the user's entry goes, or undefined when it does not expire (the PTTL of Redis). */
  expiresAt(userId: string): number | undefined {
    return this.dueAt.get(userId);
  }

  /** The user's entry goes at `at` (replacing an earlier schedule, as PEXPIRE does). */
  schedule(userId: string, at: number): void {
    this.cancel(userId);
    this.dueAt.set(userId, at);
    this.queue.insert({ at, userId });
  }

  /** The user's entry stays (PERSIST). */
  cancel(userId: string): void {
    const at = this.dueAt.get(userId);
    if (at === undefined) return;
    this.dueAt.delete(userId);
    this.queue.delete({ at, userId });
  }

  /** Up to `limit` users whose time came by `now`, earliest first, taken off the queue. */
  takeDue(now: number, limit: number): string[] {
    const due: Due[] = [];
    for (const entry of this.queue.valuesAfter()) {
      if (entry.at > now || due.length === limit) break;
      due.push(entry);
    }
    for (const entry of due) {
      this.queue.delete(entry);
      this.dueAt.delete(entry.userId);
    }
    return due.map((entry) => entry.userId);
  }
}
