import * as parquetWasm from 'parquet-wasm';

/**
 * parquet-wasm's Node entry instantiates its WebAssembly module synchronously at import, so no init call is
 * needed. Kept in one module so that the rest of the code imports the library from one place.
 */
export { parquetWasm as wasm };

/** The message of whatever the wasm side threw (it throws strings as well as Errors). */
export function wasmMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
