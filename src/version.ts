/**
 * The product's name, version and description, from package.json: one read, shared by the CLI
 * (`--version`), /health, the metrics' node info and the OpenAPI document. Resolved relative to
 * this file, which sits one level below the package root both in src/ and in dist/.
 */
import { readFileSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string; description?: string };

export const PACKAGE_VERSION: string = pkg.version;
export const PACKAGE_DESCRIPTION: string = pkg.description ?? '';
