import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The package's root folder (this file is one level below it, in src/ or dist/). */
export const PACKAGE_ROOT: string = fileURLToPath(new URL('..', import.meta.url));

/** Aloft's version, from package.json. */
export const VERSION: string = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
