import { Bool, DateDay, Int8, Utf8 } from 'apache-arrow';
import { describe, expect, it } from 'vitest';
import { incompatibility } from '../../../connectors/postgres/types.js';

describe('postgres column compatibility', () => {
  it('lets integers fill boolean columns (MySQL booleans are tinyint 0/1) and refuses bool into date', () => {
    expect(incompatibility(new Int8(), 'bool', 'B')).toBeUndefined();
    expect(incompatibility(new Utf8(), 'uuid', 'U')).toBeUndefined();
    expect(incompatibility(new Bool(), 'date', 'D')).toMatch(/cannot be stored in a date column/);
    expect(incompatibility(new DateDay(), 'int4', 'N')).toMatch(/cannot be stored/);
  });
});
