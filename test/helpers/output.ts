import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The `id` of every row in the committed JSON Lines files of a file-sink directory. */
export function committedIds(dir: string): number[] {
  if (!existsSync(dir)) return [];
  const ids: number[] = [];
  for (const name of readdirSync(dir)) {
    if (!name.endsWith('.jsonl')) continue;
    for (const line of readFileSync(join(dir, name), 'utf8').split('\n')) if (line) ids.push(Number((JSON.parse(line) as { id: unknown }).id));
  }
  return ids;
}

/** Files left under the file sink's staging directory. */
export function stagedFiles(dir: string): string[] {
  const root = join(dir, '.tideway-staging');
  if (!existsSync(root)) return [];
  return readdirSync(root, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => d.name);
}

export function expectExactlyOnce(ids: number[], rows: number): string | undefined {
  const counts = new Map<number, number>();
  for (const id of ids) counts.set(id, (counts.get(id) ?? 0) + 1);
  for (let id = 0; id < rows; id++) {
    const n = counts.get(id) ?? 0;
    if (n !== 1) return `id ${id} appears ${n} times`;
  }
  if (ids.length !== rows) return `${ids.length} rows for ${rows} ids`;
  return undefined;
}

/** Every row of the committed JSON Lines files of a file-sink directory (none when it does not exist). */
export function committedRows(dir: string): Record<string, unknown>[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((name) => name.endsWith('.jsonl'))
    .flatMap((name) => readFileSync(join(dir, name), 'utf8').split('\n').filter(Boolean))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}
