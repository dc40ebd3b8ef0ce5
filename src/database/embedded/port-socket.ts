/**
 * A `net.Socket` look-alike over a MessagePort, handed to `pg` as its `stream`: the driver
 * writes wire-protocol bytes into it and reads the answers of the embedded-database thread
 * out of it. pg calls connect / setNoDelay / setKeepAlive / ref / unref on its stream; the
 * port needs nothing of them but `connect`, which it answers with the 'connect' event.
 */
import { Duplex } from 'node:stream';
import type { MessagePort } from 'node:worker_threads';

export class PortSocket extends Duplex {
  constructor(private readonly port: MessagePort) {
    super();
    port.on('message', (chunk: Uint8Array) => {
      this.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    });
    // The thread ended (or closed the connection): end of stream, like a server hanging up.
    port.on('close', () => {
      this.push(null);
      if (!this.destroyed) this.destroy();
    });
  }

  connect(): this {
    process.nextTick(() => this.emit('connect'));
    return this;
  }

  setNoDelay(): this {
    return this;
  }

  setKeepAlive(): this {
    return this;
  }

  ref(): this {
    this.port.ref();
    return this;
  }

  unref(): this {
    this.port.unref();
    return this;
  }

  override _read(): void {
    // Pushed as the thread answers; nothing to pull.
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    // pg's buffers may be slices of a shared pool: copy, then transfer the copy.
    const copy = new Uint8Array(chunk);
    this.port.postMessage(copy, [copy.buffer]);
    callback();
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.port.postMessage(null);
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.port.close();
    callback(error);
  }
}
