// @ts-check
/**
 * Cuts a PostgreSQL frontend byte stream into whole protocol messages. PGlite takes one message
 * at a time; a stream delivers them in arbitrary chunks (several in one, or one across many).
 *
 * The first message of a connection is the startup packet, which has no type byte (int32
 * length, then the protocol version); every later one is a type byte and an int32 length that
 * counts itself but not the type byte. SSL and GSS negotiation never happen: the only client is
 * the gateway's own pool, over a MessagePort.
 *
 * Plain JavaScript (type-checked through JSDoc): it runs on the embedded database's thread,
 * which loads no TypeScript tooling (tsx there costs ~80 MB of RSS, measured).
 */
export class ProtocolFramer {
  /** @type {Uint8Array} */
  #pending = new Uint8Array(0);
  #started = false;

  /**
   * Adds a chunk; returns the messages it completed, in order (copies, safe to keep).
   * @param {Uint8Array} chunk
   * @returns {Uint8Array[]}
   * @throws {Error} on a length no message can have (the stream is not PostgreSQL's)
   */
  push(chunk) {
    const buffer = this.#pending.length === 0 ? chunk : concat(this.#pending, chunk);
    /** @type {Uint8Array[]} */
    const messages = [];
    let offset = 0;
    for (;;) {
      const typeBytes = this.#started ? 1 : 0;
      if (buffer.length - offset < typeBytes + 4) break;
      const length = typeBytes + new DataView(buffer.buffer, buffer.byteOffset + offset + typeBytes).getInt32(0);
      if (length < typeBytes + 4) throw new Error(`malformed protocol message (length ${length})`);
      if (buffer.length - offset < length) break;
      messages.push(buffer.slice(offset, offset + length));
      offset += length;
      this.#started = true;
    }
    this.#pending = buffer.slice(offset);
    return messages;
  }
}

/**
 * @param {Uint8Array} a
 * @param {Uint8Array} b
 */
function concat(a, b) {
  const joined = new Uint8Array(a.length + b.length);
  joined.set(a, 0);
  joined.set(b, a.length);
  return joined;
}
