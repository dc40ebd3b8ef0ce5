/**
 * The pino-compatible subset of a logger the framework-free core (connection, presence, cluster,
 * delivery, gateway) logs through. A file of its own so that any of those folders can take a
 * logger without importing another folder's module.
 */
export interface CoreLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}
