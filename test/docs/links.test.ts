/**
 * Every relative link of the project's Markdown (README.md, the package and bench/chaos READMEs,
 * docs/) points at a file that exists, and every `#anchor` at a heading of its target, named as
 * GitHub names them. A link to a file that was never written (the README once pointed at
 * PROTOCOL.md) fails here.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';

const root = fileURLToPath(new URL('../..', import.meta.url));
const documents = [
  'README.md',
  'bench/README.md',
  'chaos/README.md',
  'packages/client/README.md',
  ...readdirSync(join(root, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];

/** GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens. */
function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/`/g, '')
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

function anchors(file: string): Set<string> {
  const text = readFileSync(file, 'utf8').replace(/```[\s\S]*?```/g, '');
  const seen = new Map<string, number>();
  const result = new Set<string>();
  for (const match of text.matchAll(/^#{1,6}\s+(.+)$/gm)) {
    const base = slug(match[1]!);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    result.add(n === 0 ? base : `${base}-${n}`);
  }
  return result;
}

/** Inline links and images outside code: [text](target) with a relative target. */
function relativeLinks(text: string): string[] {
  const prose = text.replace(/```[\s\S]*?```/g, '').replace(/`[^`\n]*`/g, '');
  return [...prose.matchAll(/!?\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)].map((m) => m[1]!).filter((target) => !/^[a-z][a-z0-9+.-]*:/i.test(target));
}

for (const document of documents) {
  t.test(document, async (t) => {
    const path = join(root, document);
    t.ok(existsSync(path), 'exists');
    const links = relativeLinks(readFileSync(path, 'utf8'));
    for (const link of links) {
      const [target = '', anchor] = link.split('#');
      const file = target === '' ? path : join(dirname(path), decodeURIComponent(target));
      if (!existsSync(file)) {
        t.fail(`${link}: ${relative(root, file)} does not exist`);
        continue;
      }
      if (anchor && statSync(file).isFile() && file.endsWith('.md')) {
        t.ok(anchors(file).has(anchor), `${link}: heading #${anchor} in ${relative(root, file)}`);
      } else {
        t.pass(link);
      }
    }
  });
}
