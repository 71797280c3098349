import { describe, expect, it } from 'vitest';
import { textTypeCast } from '../../../connectors/mysql/connection.js';
import { queryRaw } from '../../../connectors/mysql/raw-rows.js';
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
});
