import { mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { JOB_ID, JobStore, newJobId } from '../../../src/server/job-store.js';
import { useTempDirs } from '../../helpers/jobs.js';

const dir = useTempDirs();

describe('JobStore', () => {
  it('writes records and specs whole, owner-only, leaving no temporary file', async () => {
    const store = new JobStore(dir());
    await store.open();
    const id = newJobId();
    expect(id).toMatch(JOB_ID);
    await store.writeSpec(id, { text: 'env: {}', file: 'job.yaml', variables: { PW: 'secret-value' }, secretVariables: ['PW'] });
    for (let i = 0; i < 5; i++) await store.writeRecord(id, { id, n: i });
    expect(await store.readAll()).toEqual([{ id, record: { id, n: 4 } }]);
    expect((await store.readSpec(id)).variables.PW).toBe('secret-value');
    const folder = join(store.stateDir, 'jobs', id);
    expect(readdirSync(folder).sort()).toEqual(['record.json', 'spec.json']);
    for (const file of ['record.json', 'spec.json']) expect(statSync(join(folder, file)).mode & 0o077).toBe(0);
  });

  it('skips a job folder without a record and names that are not job ids; names a damaged record', async () => {
    const store = new JobStore(dir());
    await store.open();
    mkdirSync(join(store.stateDir, 'jobs', newJobId()));
    mkdirSync(join(store.stateDir, 'jobs', 'not-a-job'));
    writeFileSync(join(store.stateDir, 'jobs', 'stray.json'), '{}');
    expect(await store.readAll()).toEqual([]);
    const id = newJobId();
    await store.writeRecord(id, { id });
    writeFileSync(join(store.stateDir, 'jobs', id, 'record.json'), '{"id": ');
    await expect(store.readAll()).rejects.toMatchObject({ code: 'SERVER_STATE_DAMAGED', message: expect.stringContaining(join(id, 'record.json')) });
  });

  it('refuses an id that is not one it made', async () => {
    const store = new JobStore(dir());
    await store.open();
    for (const id of ['../x', 'j-abc/../../etc', '', 'J-ABCDEF-123456']) {
      await expect(store.writeRecord(id, {})).rejects.toMatchObject({ code: 'JOB_ID_INVALID' });
    }
  });
});
