/**
 * The join/leave budget of a session (MAX_ROOM_CHANGES_PER_SEC): a token bucket holding up to
 * `perSecond` tokens, refilled at `perSecond` per second; every join or leave frame takes one.
 * So a client may join a handful of rooms at once after connecting, and keeps at most
 * `perSecond` changes a second after that.
 *
 * Why a budget of its own on top of the frame limit (MAX_MESSAGES_PER_SEC): a join or leave is
 * the one client frame that writes to the cluster's shared store (the room directory and the
 * node's room subscriptions); at 50 frames/s a few sessions flipping rooms would keep Redis busy
 * for everyone. Batching (room-service.ts) makes each change cheap; this bounds how many there are.
 *
 * Buckets live in a WeakMap keyed by the session: nothing to clean when a session ends, and a
 * session that never joins costs nothing.
 */
import type { Session } from '../connection/session.ts';

interface Bucket {
  tokens: number;
  /** When `tokens` was last brought up to date (ms). */
  at: number;
}

export class RoomChangeLimit {
  private readonly buckets = new WeakMap<Session, Bucket>();

  constructor(
    /** MAX_ROOM_CHANGES_PER_SEC: the bucket's size and its refill per second. */
    readonly perSecond: number,
    private readonly now: () => number,
  ) {}

  /** Takes one change from the session's budget; false (nothing taken) when it is spent. */
  take(session: Session): boolean {
    const now = this.now();
    let bucket = this.buckets.get(session);
    if (!bucket) this.buckets.set(session, (bucket = { tokens: this.perSecond, at: now }));
    // A clock that went backwards refills nothing (and re-anchors the bucket).
    const elapsed = Math.max(0, now - bucket.at);
    bucket.tokens = Math.min(this.perSecond, bucket.tokens + (elapsed * this.perSecond) / 1000);
    bucket.at = now;
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }
}
