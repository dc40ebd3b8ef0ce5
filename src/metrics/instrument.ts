/**
 * Times every asynchronous method call of an object (the online store, the player repository)
 * without touching its implementation: `instrument(store, observe)` returns a Proxy that
 * forwards each call to the real object and reports, when the returned promise settles, the
 * method name, the duration in seconds, success, and the arguments.
 *
 * - Methods run with the real object as `this`, so implementations using `#private` fields or
 *   identity checks behave exactly as before; the promise handed back is the original one.
 * - Synchronous methods (a non-thenable result) pass through unmeasured.
 * - The wrapper of each method is made once and cached: no allocation per property access,
 *   and one `performance.now()` pair plus a `then` per call.
 */

/** Called once per settled call. Must not throw. */
export type CallObserver = (method: string, seconds: number, ok: boolean, args: readonly unknown[]) => void;

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && (typeof value === 'object' || typeof value === 'function') && typeof (value as { then?: unknown }).then === 'function';
}

export function instrument<T extends object>(target: T, observe: CallObserver): T {
  const wrappers = new Map<string, { original: (...args: unknown[]) => unknown; wrapper: (...args: unknown[]) => unknown }>();
  return new Proxy(target, {
    get(object, property) {
      const value: unknown = Reflect.get(object, property, object);
      if (typeof value !== 'function' || typeof property !== 'string' || property === 'constructor') return value;
      const cached = wrappers.get(property);
      if (cached && cached.original === value) return cached.wrapper;
      const original = value as (...args: unknown[]) => unknown;
      const wrapper = function instrumented(...args: unknown[]): unknown {
        const started = performance.now();
        let result: unknown;
        try {
          result = original.apply(object, args);
        } catch (error) {
          observe(property, (performance.now() - started) / 1000, false, args);
          throw error;
        }
        if (isThenable(result)) {
          result.then(
            () => observe(property, (performance.now() - started) / 1000, true, args),
            () => observe(property, (performance.now() - started) / 1000, false, args),
          );
        }
        return result;
      };
      wrappers.set(property, { original, wrapper });
      return wrapper;
    },
  });
}
