/** Paging through GET /api/online/players in the API tests (paging, search). */
import { TEST_ADMIN_TOKEN, type TestApp } from '../helpers/build.ts';
import { call } from './http.ts';

export interface Page {
  players: Array<{ userId: string; username: string; nodeId: string; status: string; sessions: number; connectedAt: number; lastHeartbeat: number }>;
  nextCursor?: string;
  total: number;
}

/** One page; throws on anything but 200. */
export async function page(h: TestApp, query: string): Promise<Page> {
  const r = await call<Page>(h, 'GET', `/api/online/players?${query}`, { token: TEST_ADMIN_TOKEN });
  if (r.status !== 200) throw new Error(`HTTP ${r.status}: ${JSON.stringify(r.body)}`);
  return r.body;
}

/** Every page of a paging run; `between` runs after each page that has a successor (churn). */
export async function pageAll(h: TestApp, query: string, between?: () => Promise<void>): Promise<Page[]> {
  const pages: Page[] = [];
  let cursor: string | undefined;
  do {
    const p = await page(h, `${query}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    pages.push(p);
    cursor = p.nextCursor;
    if (cursor && between) await between();
    if (pages.length > 1000) throw new Error('paging does not end');
  } while (cursor);
  return pages;
}

/** A small deterministic PRNG, so a failing churn run can be replayed. */
export function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}
