/**
 * The node state of standalone-recovery.ts in a file. Writes go to a temporary file that is
 * then renamed over the old one: a crash mid-write leaves the previous state, never half a one.
 */
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { NodeStateStorage } from '../presence/standalone-recovery.ts';

export class NodeStateFile implements NodeStateStorage {
  private readonly temporary: string;

  constructor(private readonly path: string) {
    this.temporary = `${path}.tmp`;
  }

  async read(): Promise<string | undefined> {
    try {
      return await readFile(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  async write(text: string): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true });
    await writeFile(this.temporary, text);
    await rename(this.temporary, this.path);
  }

  async remove(): Promise<void> {
    await rm(this.path, { force: true });
  }
}
