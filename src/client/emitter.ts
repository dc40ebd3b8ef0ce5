/**
 * A tiny typed event emitter for the SDK (browser-safe: no node:events). A throwing listener
 * never breaks the emitter or the socket handling that called it: the error goes to the
 * `onListenerError` hook, by default rethrown on a fresh stack (like a throwing DOM listener).
 */

/** A listener of an event whose payload is `T`. */
export type Listener<T> = (payload: T) => void;

/** Where errors thrown by listeners go. */
export type ListenerErrorHandler = (error: unknown, event: string) => void;

/** Rethrows outside the emitting call stack: reported, never swallowed, never in the way. */
export const rethrowAsync: ListenerErrorHandler = (error) => {
  setTimeout(() => {
    throw error;
  }, 0);
};

export class TypedEmitter<Events extends object> {
  private readonly listeners = new Map<keyof Events, Array<Listener<never>>>();

  constructor(private readonly onListenerError: ListenerErrorHandler = rethrowAsync) {}

  /** Adds a listener; returns a function that removes it. */
  on<K extends keyof Events>(event: K, listener: Listener<Events[K]>): () => void {
    const list = this.listeners.get(event) ?? [];
    list.push(listener as Listener<never>);
    this.listeners.set(event, list);
    return () => this.off(event, listener);
  }

  /** Adds a listener called at most once; returns a function that removes it. */
  once<K extends keyof Events>(event: K, listener: Listener<Events[K]>): () => void {
    const wrapper: Listener<Events[K]> = (payload) => {
      remove();
      listener(payload);
    };
    const remove = this.on(event, wrapper);
    return remove;
  }

  /** Removes a listener (the first registration of it). */
  off<K extends keyof Events>(event: K, listener: Listener<Events[K]>): void {
    const list = this.listeners.get(event);
    if (!list) return;
    const index = list.indexOf(listener as Listener<never>);
    if (index >= 0) list.splice(index, 1);
    if (list.length === 0) this.listeners.delete(event);
  }

  /** Number of listeners of an event. */
  listenerCount<K extends keyof Events>(event: K): number {
    return this.listeners.get(event)?.length ?? 0;
  }

  /** Calls every listener of `event` in registration order; listener errors never propagate. */
  protected emit<K extends keyof Events>(event: K, payload: Events[K]): void {
    const list = this.listeners.get(event);
    if (!list) return;
    for (const listener of [...list]) {
      try {
        (listener as Listener<Events[K]>)(payload);
      } catch (error) {
        try {
          this.onListenerError(error, String(event));
        } catch {
          // the error hook itself failed: nothing sensible is left to do
        }
      }
    }
  }
}
