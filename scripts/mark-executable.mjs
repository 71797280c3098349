/**
 * Makes the CLI's entry file executable after tsc wrote it (tsc writes 0644). npm sets the mode itself when it
 * links the bin, but not when it reuses an npx cache entry that links to this repository.
 */
import { chmodSync } from 'node:fs';

chmodSync(new URL('../dist/src/cli/main.js', import.meta.url), 0o755);
