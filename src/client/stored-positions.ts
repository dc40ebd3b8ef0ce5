/**
 * Where the app stands in each stored conversation (docs/protocol.md, "Stored messages"), and
 * what the SDK does about it:
 *
 * - **Position**: per conversation, the highest seq N such that every seq from the first one this
 *   client object saw up to N was given to the app: `message` / `group` frames with a `seq`
 *   (live, recovered, or already given and de-duplicated), the pages of the gap fill, and the
 *   user's own stored messages (the `conversation` / `seq` of their acks). Kept in memory for the
 *   client object's life, across reconnects.
 * - **Start**: a conversation the client knows nothing of starts at the first seq it sees. When
 *   that seq comes in a login's recovery this is exact (the server recovers from the user's
 *   position: what precedes it was had); when it comes live, it is a choice: the SDK cannot know
 *   the server's position, and the messages before it were either had or (rarely) dropped by a
 *   full send queue right after the login. A conversation the recovery names in `more` without
 *   having sent any of its messages (its bound was used up by others) is left alone for that
 *   connection: the server's position is unknown, so neither paged nor acknowledged; the next
 *   login recovers it.
 * - **Gap fill**: a seq above N + 1 waits `gapFillDelayMs` (the protocol lets two members'
 *   messages arrive out of order), then the conversation is paged with `history` after N until
 *   the gap is closed; the missing messages are emitted as ordinary `message` / `group` events in
 *   seq order, never one already given. One fill per conversation, at most two at once; failures
 *   retried with backoff; a conversation in the recovery's `more` is paged the same way until a
 *   page comes back empty. Seqs the history does not have are skipped: gone with retention, or
 *   never stored (a direct message numbered and delivered whose node died before storing it).
 * - **`received`**: each advance of N is reported to the server, at most once per 250 ms per
 *   conversation, with the latest N, and at most `RECEIVED_PER_TICK` frames per 250 ms in all (the
 *   frames count against the server's inbound rate limit); what is pending is sent right before a
 *   deliberate close, and kept across a lost connection for the next one.
 */
import { FrameErrorCode } from '../protocol/error-codes.ts';
import type { ClientReceivedFrame, StoredMessageView } from '../protocol/frame-types.ts';
import { backoffDelay } from './backoff.ts';
import type { GatehouseError } from './errors.ts';
import type { Timers } from './types.ts';

/** How often `received` frames go out, and how often per conversation at most. */
export const RECEIVED_INTERVAL_MS = 250;
/** `received` frames per interval at most, all conversations together (16 a second). */
export const RECEIVED_PER_TICK = 4;
/** `received` frames sent right before a deliberate close at most (under the server's default 50 frames a second). */
export const RECEIVED_ON_CLOSE = 30;
/** Messages asked for per history page (the server cuts it to its HISTORY_PAGE_MAX). */
export const FILL_PAGE_LIMIT = 100;
/** History pages in flight at most, all conversations together (pages go out in the bulk lane). */
export const FILL_CONCURRENCY = 2;
/** Default wait between seeing a gap and paging it. */
export const DEFAULT_GAP_FILL_DELAY_MS = 250;
/** Retries of a failed page: 250 ms plus a full-jitter backoff of this shape. */
const FILL_RETRY = { initialDelayMs: 1000, maxDelayMs: 30_000, factor: 2 };
const FILL_RETRY_FLOOR_MS = 250;
/** With `fillGaps: false`, seqs remembered past a gap per conversation at most. */
const UNFILLED_ABOVE_MAX = 10_000;

export interface StoredPositionsDeps {
  timers: Timers;
  random: () => number;
  /** Send `received` frames (the `acknowledgeStored` option). */
  acknowledge: boolean;
  /** Page gaps and the recovery's `more` (the `fillGaps` option). */
  fillGaps: boolean;
  gapFillDelayMs: number;
  /** Sends on the current socket; false when none is open. */
  send(frame: ClientReceivedFrame): boolean;
  /** The SDK's own page of `conversation` after `after` (not the app's: no `history` event). */
  page(conversation: string, after: number, limit: number): Promise<StoredMessageView[]>;
  /** Gives a paged message to the app as its `message` / `group` event, unless its id was given already. */
  deliver(conversation: string, message: StoredMessageView): void;
}

interface Conversation {
  /** The first seq of the contiguous run (where the client started, or earlier seqs that joined it). */
  from: number;
  /** N: every seq from `from` to here was given to the app. */
  upto: number;
  /** Seqs given above N + 1 (past a gap). */
  above: Set<number>;
  /** The last N reported with `received` (0: none). */
  reported: number;
  /** A page is being read (or queued for a turn). */
  filling: boolean;
  /** The fill running, if any (a stale one, from a connection that ended, leaves the flags alone). */
  run: object | undefined;
  /** Paged until a page comes back empty (named in the recovery's `more`). */
  untilEnd: boolean;
  /** The gap delay or a retry backoff. */
  timer: unknown;
  failures: number;
}

export class StoredPositions {
  private readonly conversations = new Map<string, Conversation>();
  /** Named in this connection's `more` with none of their messages recovered: left alone. */
  private readonly unknown = new Set<string>();
  /** Conversations whose N advanced past what was reported, in the order they did. */
  private readonly unreported = new Set<string>();
  private receivedTimer: unknown;
  /** Conversations waiting for a turn to page, and those paging. */
  private readonly fillQueue: string[] = [];
  private fillsRunning = 0;
  private online = false;
  /** Bumped when a connection ends: stale pages and timers check it. */
  private connection = 0;

  constructor(private readonly deps: StoredPositionsDeps) {}

  /** N of a conversation (undefined until the client has seen one of its messages). */
  position(conversation: string): number | undefined {
    return this.conversations.get(conversation)?.upto;
  }

  /** Whether this seq of the conversation was given to the app already (by seq: exact, however old). */
  given(conversation: string, seq: number): boolean {
    const state = this.conversations.get(conversation);
    return state !== undefined && ((seq >= state.from && seq <= state.upto) || state.above.has(seq));
  }

  /** Message `seq` of `conversation` was given to the app (or is the user's own, acknowledged by the server). */
  saw(conversation: string, seq: number): void {
    if (!Number.isSafeInteger(seq) || seq < 1) return;
    let state = this.conversations.get(conversation);
    if (!state) {
      if (this.unknown.has(conversation)) return;
      state = { from: seq, upto: seq, above: new Set(), reported: 0, filling: false, run: undefined, untilEnd: false, timer: undefined, failures: 0 };
      this.conversations.set(conversation, state);
      this.advanced(conversation);
      return;
    }
    if (seq <= state.upto) {
      if (seq === state.from - 1) state.from = seq; // an earlier one, arriving late: the run grows down
      return;
    }
    if (seq === state.upto + 1) {
      state.upto = seq;
      this.absorb(state);
      this.advanced(conversation);
      return;
    }
    // Without the fill nothing closes a gap: the seqs remembered past it are bounded.
    if (this.deps.fillGaps || state.above.size < UNFILLED_ABOVE_MAX) state.above.add(seq);
    this.gap(conversation, state, this.deps.gapFillDelayMs);
  }

  /** The recovery's `recovered` frame: its `more` conversations are paged until caught up. */
  recovered(more: readonly string[] | undefined): void {
    if (!Array.isArray(more) || !this.online) return;
    for (const conversation of more) {
      if (typeof conversation !== 'string') continue;
      const state = this.conversations.get(conversation);
      if (!state) {
        this.unknown.add(conversation);
        continue;
      }
      state.untilEnd = true;
      this.gap(conversation, state, 0);
    }
  }

  /** A connection got `connected`: pending reports go out, open gaps are paged again. */
  connected(): void {
    this.online = true;
    if (this.unreported.size > 0) this.scheduleReports();
    for (const [conversation, state] of this.conversations) if (state.above.size > 0) this.gap(conversation, state, this.deps.gapFillDelayMs);
  }

  /** The connection ended: pages stop (their requests fail), reports wait for the next connection. */
  disconnected(): void {
    this.online = false;
    this.connection++;
    if (this.receivedTimer !== undefined) this.deps.timers.clearTimeout(this.receivedTimer);
    this.receivedTimer = undefined;
    for (const state of this.conversations.values()) {
      if (state.timer !== undefined) this.deps.timers.clearTimeout(state.timer);
      state.timer = undefined;
      state.failures = 0;
      // The next login's recovery starts from the server's position again, `more` included.
      state.untilEnd = false;
      // A page in flight fails with the connection; its fill ends without touching these.
      state.filling = false;
      state.run = undefined;
    }
    this.fillQueue.length = 0;
    this.fillsRunning = 0;
    this.unknown.clear();
  }

  /** Right before a deliberate close: what is pending goes out now. */
  flushReports(): void {
    if (this.receivedTimer !== undefined) this.deps.timers.clearTimeout(this.receivedTimer);
    this.receivedTimer = undefined;
    this.report(RECEIVED_ON_CLOSE);
  }

  // ---- received ---------------------------------------------------------------------------

  private advanced(conversation: string): void {
    if (!this.deps.acknowledge) return;
    this.unreported.add(conversation);
    if (this.online) this.scheduleReports();
  }

  private scheduleReports(): void {
    if (this.receivedTimer !== undefined) return;
    this.receivedTimer = this.deps.timers.setTimeout(() => {
      this.receivedTimer = undefined;
      this.report(RECEIVED_PER_TICK);
      if (this.unreported.size > 0 && this.online) this.scheduleReports();
    }, RECEIVED_INTERVAL_MS);
  }

  /** Sends up to `max` `received` frames, the conversations that advanced first first. */
  private report(max: number): void {
    let sent = 0;
    for (const conversation of this.unreported) {
      if (sent >= max) return;
      const state = this.conversations.get(conversation);
      if (!state || state.upto <= state.reported) {
        this.unreported.delete(conversation);
        continue;
      }
      if (!this.deps.send({ type: 'received', conversation, seq: state.upto })) return; // no socket: the next connection sends it
      state.reported = state.upto;
      this.unreported.delete(conversation);
      sent++;
    }
  }

  // ---- gap fill ---------------------------------------------------------------------------

  /** N moved up: the seqs above it that are now contiguous join it. */
  private absorb(state: Conversation): void {
    while (state.above.delete(state.upto + 1)) state.upto++;
  }

  /** Something to page in `conversation` (a gap, or `more`): a fill after `delayMs`, unless one is on its way. */
  private gap(conversation: string, state: Conversation, delayMs: number): void {
    if (!this.deps.fillGaps || !this.online || state.filling) return;
    if (delayMs <= 0) {
      // `more`: at once, whatever delay or backoff was running
      if (state.timer !== undefined) this.deps.timers.clearTimeout(state.timer);
      state.timer = undefined;
      this.queueFill(conversation, state);
      return;
    }
    if (state.timer !== undefined) return;
    const connection = this.connection;
    state.timer = this.deps.timers.setTimeout(() => {
      state.timer = undefined;
      if (connection === this.connection && this.conversations.get(conversation) === state) this.queueFill(conversation, state);
    }, delayMs);
  }

  private queueFill(conversation: string, state: Conversation): void {
    if (state.filling || !needsPage(state)) return;
    state.filling = true;
    if (this.fillsRunning >= FILL_CONCURRENCY) {
      this.fillQueue.push(conversation);
      return;
    }
    void this.fill(conversation, state);
  }

  /** Pages `conversation` after N until nothing needs paging, the connection ends, or a page fails. */
  private async fill(conversation: string, state: Conversation): Promise<void> {
    const connection = this.connection;
    const run = {};
    state.run = run;
    const current = () => connection === this.connection && this.conversations.get(conversation) === state;
    this.fillsRunning++;
    try {
      while (current() && needsPage(state)) {
        const after = state.upto;
        let page: StoredMessageView[];
        try {
          page = await this.deps.page(conversation, after, FILL_PAGE_LIMIT);
        } catch (error) {
          if (!current()) return;
          const code = (error as GatehouseError).code;
          if (code === FrameErrorCode.UNKNOWN_CONVERSATION) {
            // No longer a participant (removed from the group): nothing to page or report.
            this.conversations.delete(conversation);
            this.unreported.delete(conversation);
            return;
          }
          if (code === 'CLOSED' || code === 'NOT_CONNECTED') return; // the next connection pages again
          state.failures++;
          const delay = FILL_RETRY_FLOOR_MS + backoffDelay(state.failures - 1, FILL_RETRY, this.deps.random);
          state.timer = this.deps.timers.setTimeout(() => {
            state.timer = undefined;
            if (current()) this.queueFill(conversation, state);
          }, delay);
          return;
        }
        if (!current()) return;
        state.failures = 0;
        this.take(conversation, state, after, page, current);
      }
    } finally {
      if (state.run === run) {
        state.filling = false;
        state.run = undefined;
      }
      if (connection === this.connection) {
        this.fillsRunning--;
        this.nextFill();
      }
    }
  }

  private nextFill(): void {
    while (this.fillsRunning < FILL_CONCURRENCY && this.fillQueue.length > 0) {
      const conversation = this.fillQueue.shift()!;
      const state = this.conversations.get(conversation);
      if (state) void this.fill(conversation, state);
    }
  }

  /** A page after `after`: the app gets what it was not given, in seq order; N moves up. */
  private take(conversation: string, state: Conversation, after: number, page: readonly StoredMessageView[], current: () => boolean): void {
    const messages = Array.isArray(page) ? page.filter((m) => typeof m?.seq === 'number' && m.seq > after) : [];
    const first = messages[0]?.seq;
    if (first === undefined) {
      // Nothing after N: caught up. Seqs seen above it are not in the history (retention, or never stored):
      // what is missing is gone.
      state.untilEnd = false;
      if (state.above.size > 0) {
        state.upto = Math.max(...state.above);
        state.above.clear();
        this.advanced(conversation);
      }
      return;
    }
    // The history answers the oldest messages after `after`: seqs before the first are gone.
    if (first - 1 > state.upto) {
      state.upto = first - 1;
      for (const seq of state.above) if (seq <= state.upto) state.above.delete(seq);
      this.absorb(state);
      this.advanced(conversation);
    }
    for (const message of messages) {
      if (!current()) return; // a listener closed the client
      if (this.given(conversation, message.seq)) continue;
      this.deps.deliver(conversation, message);
      this.saw(conversation, message.seq);
    }
  }
}

function needsPage(state: Conversation): boolean {
  return state.untilEnd || state.above.size > 0;
}
