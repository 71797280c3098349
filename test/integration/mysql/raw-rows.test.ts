import { describe, expect, it } from 'vitest';
import { textTypeCast } from '../../../connectors/mysql/connection.js';
import { queryRaw, RawStream } from '../../../connectors/mysql/raw-rows.js';
import { mysqlUp, rootConnection, useDatabase } from './helpers.js';

const db = useDatabase('raw');

/**
 * The keyset reader's raw row decoding against the server: every value reads as the driver (with the
 * connector's typeCast, which the stream mode uses) reads it, also when the server sends text in another
 * character set than the utf8mb4 the connection asks for.
 */
describe.skipIf(!mysqlUp)('mysql raw rows against MariaDB', () => {
  it('gives the values the driver gives, with results in utf8mb4 and in latin1', async () => {
    await db.sql(`CREATE TABLE texts (id INT PRIMARY KEY, l VARCHAR(20) CHARACTER SET latin1, u VARCHAR(20) CHARACTER SET utf8mb4, b VARBINARY(8), n TEXT, j JSON)`);
    await db.sql(`INSERT INTO texts VALUES (1, 'café', 'héllo 世界 🌊', X'00E9FF', NULL, '{"a": [1, "é"]}'), (2, '', '', X'', 'x', '[]')`);
    const sql = 'SELECT id, l, u, b, n, j FROM texts ORDER BY id';
    for (const results of ['utf8mb4', 'latin1']) {
      const connection = await rootConnection(db.name);
      try {
        await connection.query(`SET character_set_results = ${results}`);
        const raw = await queryRaw(connection, sql, 6);
        // The driver's row parser with the connector's typeCast (what the stream mode reads through).
        const [driver] = (await connection.query({ sql, rowsAsArray: true, typeCast: textTypeCast(new Set(['b'])) })) as unknown as [unknown[][]];
        expect(raw.count).toBe(2);
        for (let row = 0; row < 2; row++) {
          for (let column = 0; column < 6; column++) {
            const expected = driver[row]![column];
            expect({ results, row, column, value: raw.value(row, column, column === 3) }).toEqual({ results, row, column, value: expected ?? null });
          }
        }
        // Both read the latin1 column right, whatever set the results come in.
        expect(raw.value(0, 1, false)).toBe('café');
        expect(driver[0]![1]).toBe('café');
      } finally {
        await connection.end();
      }
    }
  });

  it('a raw stream hands out a long result in order in chunks, pausing the connection between them', async () => {
    await db.sql('CREATE TABLE seq (id INT PRIMARY KEY, pad VARCHAR(40))');
    await db.sql("INSERT INTO seq SELECT seq, REPEAT('p', seq % 40) FROM seq_0_to_19999");
    const connection = await rootConnection(db.name);
    try {
      const core = (connection as unknown as { connection: { pause(): void } }).connection;
      let pauses = 0;
      const pause = core.pause.bind(core);
      core.pause = () => {
        pauses++;
        pause();
      };
      const stream = new RawStream(connection, 'SELECT id, pad FROM seq ORDER BY id', 2, 128);
      const ids: number[] = [];
      for (;;) {
        const { rows, done } = await stream.take(77);
        expect(rows.count).toBeLessThanOrEqual(77);
        for (let i = 0; i < rows.count; i++) ids.push(Number(rows.value(i, 0, false)));
        if (done) break;
        // Give the socket time to fill what the stream allows.
        if (ids.length % 1540 === 0) await new Promise((r) => setTimeout(r, 5));
      }
      expect(ids).toEqual(Array.from({ length: 20_000 }, (_, i) => i));
      expect(pauses).toBeGreaterThan(0);
    } finally {
      await connection.end();
    }
  });
});
