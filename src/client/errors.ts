/** The SDK's one error type: server error codes and the SDK's own. */
import type { FrameErrorCode } from '../protocol/error-codes.ts';
import type { ServerErrorFrame } from '../protocol/frame-types.ts';

/**
 * Codes of a {@link GatehouseError}: the server's `error` frame codes (PROTOCOL.md "Errors"), plus
 * - `TIMEOUT`: no answer within the timeout (ackTimeoutMs);
 * - `CLOSED`: the connection closed before the answer came, or the client was closed;
 * - `NOT_CONNECTED`: there was no open connection to send on.
 */
export type GatehouseErrorCode = FrameErrorCode | 'TIMEOUT' | 'CLOSED' | 'NOT_CONNECTED';

export class GatehouseError extends Error {
  override readonly name = 'GatehouseError';
  /** The server frame, when the error came from an `error` frame. */
  readonly frame: ServerErrorFrame | undefined;
  /** The client id of the request that failed (the `ref` of the error frame). */
  readonly ref: string | undefined;

  constructor(
    readonly code: GatehouseErrorCode,
    message: string,
    options: { frame?: ServerErrorFrame; ref?: string } = {},
  ) {
    super(message);
    this.frame = options.frame;
    this.ref = options.ref;
  }
}
