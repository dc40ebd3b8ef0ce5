/**
 * PostgreSQL for the Redis + PostgreSQL configuration: a private schema `bench_<ts>_<n>` in the
 * `test` database per server start, dropped afterwards, and the logout-storm probe.
 */
import pg from 'pg';

export const DEFAULT_DATABASE_URL = 'postgresql://postgres@127.0.0.1:5432/test';

export class BenchDatabase {
  private readonly schemas = new Set<string>();
  private counter = 0;
  private readonly stamp = Date.now().toString(36);

  private constructor(
    readonly url: string,
    private readonly client: pg.Client,
  ) {}

  static async connect(url: string): Promise<BenchDatabase> {
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
    await client.connect();
    client.on('error', () => {});
    return new BenchDatabase(url, client);
  }

  /** Creates an empty schema; Gatehouse migrates it at startup (DATABASE_SCHEMA). */
  async createSchema(): Promise<string> {
    const name = `bench_${this.stamp}_${++this.counter}`;
    await this.client.query(`CREATE SCHEMA "${name}"`);
    this.schemas.add(name);
    return name;
  }

  async dropSchema(name: string): Promise<void> {
    await this.client.query(`DROP SCHEMA IF EXISTS "${name}" CASCADE`);
    this.schemas.delete(name);
  }

  /** Session rows, and how many of them carry a logout (disconnected_at). */
  async sessionCounts(schema: string): Promise<{ total: number; loggedOut: number }> {
    const r = await this.client.query<{ total: string; out: string }>(
      `SELECT count(*) AS total, count(*) FILTER (WHERE disconnected_at IS NOT NULL) AS out FROM "${schema}".player_sessions`,
    );
    return { total: Number(r.rows[0]?.total ?? 0), loggedOut: Number(r.rows[0]?.out ?? 0) };
  }

  async close(): Promise<void> {
    for (const s of [...this.schemas]) await this.dropSchema(s).catch(() => {});
    await this.client.end().catch(() => {});
  }
}
