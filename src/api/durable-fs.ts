import { open } from 'node:fs/promises';

/**
 * Fsyncs a directory, so that a rename or a new file inside it survives a power cut. Connectors that
 * stage local files and the checkpoint store use it after every rename.
 */
export async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
