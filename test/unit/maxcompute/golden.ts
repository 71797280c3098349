import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { OdpsColumn } from '../../../connectors/maxcompute/codec/types.js';

/**
 * The project root is three folders up from this file; the shared conformance data sits beside the
 * project (`<root>/../shared/conformance/maxcompute`), wherever the clone lives.
 */
export const PROJECT_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const GOLDEN_DIR = fileURLToPath(new URL('../../../../shared/conformance/maxcompute/', import.meta.url));

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
    throw new Error(`the MaxCompute golden vector is not at ${GOLDEN_DIR} (resolved from the project root ${PROJECT_ROOT}); put a copy of shared/ beside the project`);
  }
  return { golden: JSON.parse(readFileSync(json, 'utf8')) as GoldenVector, bytes: new Uint8Array(readFileSync(bin)) };
}
