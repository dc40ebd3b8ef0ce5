/**
 * `gatehouse check-config`: validates the environment exactly as a start would and prints what
 * this node would run with — backends, auth, limits — with every secret shown only as set or
 * not set, so the output can be pasted into a ticket.
 */
import { type Config, loadConfig } from '../config.ts';

const SECRET_KEYS = new Set(['AUTH_JWT_SECRET', 'ADMIN_TOKEN', 'METRICS_TOKEN', 'AUTH_JWT_PUBLIC_KEY']);

/** A URL with its password (and user) replaced: postgresql://***@db:5432/gatehouse. */
function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.username || parsed.password) {
      parsed.username = '***';
      parsed.password = '';
    }
    return parsed.toString();
  } catch {
    return '(unparsable URL)';
  }
}

export function describeConfig(config: Config): string {
  const backends = [
    `database: ${config.DATABASE_URL ? `PostgreSQL ${redactUrl(config.DATABASE_URL)}` : `embedded (PGlite in ${config.PGLITE_DIR})`}`,
    `online store: ${
      config.REDIS_CLUSTER_NODES
        ? `Redis Cluster ${config.REDIS_CLUSTER_NODES} (${config.REDIS_BUCKETS} buckets)`
        : config.REDIS_URL
          ? `Redis ${redactUrl(config.REDIS_URL)}${config.REDIS_SENTINELS ? ` via Sentinel ${config.REDIS_SENTINEL_NAME}` : ''}`
          : 'in-process (single node)'
    }`,
    `auth: ${config.AUTH_MODE === 'none' ? 'none (?userId=, development only)' : 'JWT'}`,
  ];
  const settings = Object.entries(config)
    .filter(([, value]) => value !== undefined)
    .map(([key, value]) => {
      if (SECRET_KEYS.has(key)) return `${key}=(set)`;
      if (key.endsWith('_URL') && typeof value === 'string') return `${key}=${redactUrl(value)}`;
      return `${key}=${String(value)}`;
    })
    .sort();
  return `configuration is valid (NODE_ENV=${config.NODE_ENV})\n${backends.map((line) => `  ${line}`).join('\n')}\n\n${settings.join('\n')}\n`;
}

export function checkConfig(): void {
  process.stdout.write(describeConfig(loadConfig()));
}
