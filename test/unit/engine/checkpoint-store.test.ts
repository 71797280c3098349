import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
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

  it('never takes a torn write as the latest: a truncated newest file falls back to the one before', async () => {
    const { store: s, location } = store();
    await s.save(checkpoint(1));
    await s.save(checkpoint(2));
    truncateSync(join(location, 'chk-0000000002.json'), 40);
    expect((await s.latest())?.checkpointId).toBe(1);
  });

  it('rejects a file whose content does not match its checksum', async () => {
    const { store: s, location } = store();
    await s.save(checkpoint(1));
    await s.save(checkpoint(2));
    const path = join(location, 'chk-0000000002.json');
    writeFileSync(path, readFileSync(path, 'utf8').replace('split-2', 'split-9'));
    expect((await s.latest())?.checkpointId).toBe(1);
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
