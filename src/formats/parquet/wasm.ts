import { createRequire } from 'node:module';
import type * as ParquetWasm from 'parquet-wasm';

export type { ParquetWasm };

const require = createRequire(import.meta.url);
let loaded: typeof ParquetWasm | undefined;

/**
 * parquet-wasm, loaded on first use. Its Node entry (CommonJS) compiles the WebAssembly module synchronously
 * when it is loaded, about 0.1 s: a process or pipeline thread that neither writes nor reads Parquet does not
 * pay it. Kept in one module so that the rest of the code reaches the library from one place.
 */
export function wasm(): typeof ParquetWasm {
  loaded ??= require('parquet-wasm') as typeof ParquetWasm;
  return loaded;
}

/** The message of whatever the wasm side threw (it throws strings as well as Errors). */
export function wasmMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
