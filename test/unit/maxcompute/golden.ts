import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { OdpsColumn } from '../../../connectors/maxcompute/codec/types.js';

/**
 * The Go SDK's vector, copied byte for byte from the shared conformance data
 * (`shared/conformance/maxcompute/`) into the project's fixtures, so that a clone anywhere runs the suite.
 */
export const PROJECT_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const GOLDEN_DIR = fileURLToPath(new URL('../../fixtures/maxcompute/', import.meta.url));

export interface GoldenVector {
  columns: OdpsColumn[];
  records: Record<string, unknown>[];
  record_crc32c: number;
  crc_of_crcs: number;
  record_count: number;
}

/** Loads the Go SDK's simple-types vector; a missing copy fails the suite with the path it looked at. */
export function loadGolden(): { golden: GoldenVector; bytes: Uint8Array } {
  const json = `${GOLDEN_DIR}simple-types.json`;
  const bin = `${GOLDEN_DIR}simple-types.protoc.bin`;
  if (!existsSync(json) || !existsSync(bin)) {
    throw new Error(`the MaxCompute golden vector is not at ${GOLDEN_DIR} (resolved from the project root ${PROJECT_ROOT}); copy simple-types.json and simple-types.protoc.bin there from shared/conformance/maxcompute/`);
  }
  return { golden: JSON.parse(readFileSync(json, 'utf8')) as GoldenVector, bytes: new Uint8Array(readFileSync(bin)) };
}
