/**
 * Frames a client sends between the upgrade and its confirmed login (the store answers in a
 * millisecond or so, but clients send their first ping or join right away). They wait here and
 * are handled in order once the session is open; beyond a few, they are dropped, so a client
 * cannot pile up memory while the store is slow.
 */
import type { Session } from './session.ts';

/** Frames a client may send before its login is confirmed; more are dropped. */
export const MAX_EARLY_FRAMES = 16;

export interface EarlyFrame {
  data: string;
  binary: boolean;
}

export class EarlyFrames {
  private readonly bySession = new Map<Session, EarlyFrame[]>();

  /** The session is logging in: its frames wait from now on. */
  hold(session: Session): void {
    this.bySession.set(session, []);
  }

  /** Keeps a frame for later; false when it is dropped (too many, or the session is not held). */
  keep(session: Session, data: string, binary: boolean): boolean {
    const frames = this.bySession.get(session);
    if (!frames || frames.length >= MAX_EARLY_FRAMES) return false;
    frames.push({ data, binary });
    return true;
  }

  /** The login completed: the frames to handle now, in arrival order. */
  release(session: Session): EarlyFrame[] {
    const frames = this.bySession.get(session) ?? [];
    this.bySession.delete(session);
    return frames;
  }

  /** The session ended before its login completed: how many frames were never handled. */
  discard(session: Session): number {
    const frames = this.bySession.get(session);
    if (!frames) return 0;
    this.bySession.delete(session);
    return frames.length;
  }
}
