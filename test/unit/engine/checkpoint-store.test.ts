import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { TidewayError } from '../../../src/api/errors.js';
import { type CheckpointData, LocalCheckpointStore } from '../../../src/engine/checkpoint-store.js';
import { tempDir } from '../../helpers/jobs.js';

function checkpoint(id: number): CheckpointData {
  return {
    format: 'tideway-checkpoint',
    version: 1,
    job: 'j',
    checkpointId: id,
    attemptId: 'a',
    createdAt: new Date(0).toISOString(),
    endOfInput: false,
    sources: [{ name: 'fake', enumerator: { pending: [] }, assigned: [], consumed: [`split-${id}`], readers: [] }],
    sinks: [{ name: 'file', writerStates: [], pending: [{ staged: `s${id}`, final: `f${id}` }] }],
  };
}

describe('LocalCheckpointStore', () => {
  const dirs: { remove(): void }[] = [];
  afterEach(() => dirs.splice(0).forEach((d) => d.remove()));
  const store = () => {
    const dir = tempDir();
    dirs.push(dir);
    return { store: new LocalCheckpointStore(dir.path, 'j'), location: join(dir.path, 'j') };
  };

  it('returns the newest checkpoint', async () => {
    const { store: s } = store();
    expect(await s.latest()).toBeUndefined();
    await s.save(checkpoint(1));
    await s.save(checkpoint(2));
    expect((await s.latest())?.checkpointId).toBe(2);
  });

  // The newest checkpoint may have been committed: falling back to the one before would write its rows again.
  it.each([
    ['truncated', (path: string) => truncateSync(path, 40), 'not complete JSON'],
    ['emptied', (path: string) => truncateSync(path, 0), 'empty'],
    ['edited', (path: string) => writeFileSync(path, readFileSync(path, 'utf8').replace('split-2', 'split-9')), 'SHA-256 does not match'],
    ['garbled', (path: string) => writeFileSync(path, 'x'.repeat(300)), 'not complete JSON'],
  ])('a %s newest checkpoint stops the resume with a message naming the file and the safe choices', async (_, damage, problem) => {
    const { store: s, location } = store();
    await s.save(checkpoint(1));
    await s.save(checkpoint(2));
    const path = join(location, 'chk-0000000002.json');
    damage(path);
    const error = await s.latest().then(() => undefined, (e: unknown) => e as TidewayError);
    expect(error?.code).toBe('CHECKPOINT_DAMAGED');
    expect(error?.message).toContain(path);
    expect(error?.message).toContain(problem);
    expect(error?.message).toContain('chk-0000000001.json');
    expect(error?.message).not.toMatch(/--fresh/);
  });

  it('a damaged older checkpoint does not matter while the newest verifies', async () => {
    const { store: s, location } = store();
    await s.save(checkpoint(1));
    await s.save(checkpoint(2));
    truncateSync(join(location, 'chk-0000000001.json'), 10);
    expect((await s.latest())?.checkpointId).toBe(2);
  });

  it('refuses a second lock on the same job in the same process until the first is released', async () => {
    const { store: s } = store();
    const release = await s.lock();
    const second = await s.lock().then(() => undefined, (e: unknown) => e as TidewayError);
    expect(second?.code).toBe('JOB_ALREADY_RUNNING');
    expect(second?.message).toContain('in this process');
    await release();
    const again = await s.lock();
    await again();
  });

  it('ignores temporary files of an interrupted save and removes them on retain', async () => {
    const { store: s, location } = store();
    await s.save(checkpoint(1));
    writeFileSync(join(location, '.chk-0000000002.json.abcd.tmp'), '{"sha256":"x","data":');
    expect((await s.latest())?.checkpointId).toBe(1);
    await s.save(checkpoint(2));
    await s.save(checkpoint(3));
    await s.retain(2);
    expect(readdirSync(location).filter((n) => n !== 'LOCK').sort()).toEqual(['chk-0000000002.json', 'chk-0000000003.json']);
  });

  it('clear removes every checkpoint', async () => {
    const { store: s } = store();
    await s.save(checkpoint(1));
    await s.clear();
    expect(await s.latest()).toBeUndefined();
  });

  it('refuses a second run of the same job while the first is alive, and takes over a dead one\'s lock', async () => {
    const { store: s, location } = store();
    const sleeper = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 20000)']);
    try {
      const release = await s.lock();
      await release();
      writeFileSync(join(location, 'LOCK'), `${sleeper.pid}\n`);
      await expect(s.lock()).rejects.toMatchObject({ code: 'JOB_ALREADY_RUNNING' });
    } finally {
      sleeper.kill('SIGKILL');
      await new Promise((r) => sleeper.once('exit', r));
    }
    const release = await s.lock();
    await release();
  });
});
