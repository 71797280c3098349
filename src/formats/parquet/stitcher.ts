import {
  CType,
  decodeStruct,
  encodeStruct,
  field,
  getI64,
  getList,
  getStruct,
  removeField,
  setField,
  type TStruct,
} from './thrift-compact.js';

/**
 * Joins complete Parquet files, each holding some row groups of the same schema, into one Parquet file,
 * emitting each part's row-group data as soon as the part arrives.
 *
 * Why: parquet-wasm only writes whole files (or streams asynchronously), while an encoder must hand out
 * bytes synchronously per row group to keep memory bounded. So each row group is written as a small
 * file; its data pages go out at once, shifted to their place in the big file, and only the small
 * things a footer needs (row-group metadata, page indexes, bloom filters) are held until `finish`,
 * where they are relocated and one footer describes every row group.
 *
 * Offsets rewritten (parquet.thrift field ids):
 * - RowGroup.file_offset (5), RowGroup.ordinal (7)
 * - ColumnChunk.file_offset (2), offset_index_offset/length (4/5), column_index_offset/length (6/7)
 * - ColumnMetaData.data_page_offset (9), index_page_offset (10), dictionary_page_offset (11),
 *   bloom_filter_offset/length (14/15)
 * - OffsetIndex.page_locations[].offset (PageLocation field 1), which points into the data pages.
 */
export class ParquetStitcher {
  private position = 0;
  private base: TStruct | undefined;
  private readonly rowGroups: TStruct[] = [];
  private numRows = 0n;
  private readonly tails: TailItem[] = [];
  private tailBytes = 0;
  private metadataBytes = 0;

  /** Bytes held until `finish`: page indexes, bloom filters and footer metadata (small; grows per row group). */
  get heldBytes(): number {
    return this.tailBytes + this.metadataBytes;
  }

  /** Bytes emitted so far. */
  get bytesOut(): number {
    return this.position;
  }

  /**
   * Takes one complete Parquet file and returns the bytes to append now: its data pages (preceded by the
   * `PAR1` magic for the first part).
   */
  addPart(file: Uint8Array): Uint8Array[] {
    const { metadata, footerStart } = readFooter(file);
    const groups = getList(metadata, 4)?.items ?? [];
    if (groups.length === 0) return [];
    if (!this.base) this.base = metadata;

    let dataStart = Number.POSITIVE_INFINITY;
    let dataEnd = 0;
    for (const group of groups) {
      for (const chunk of getList(group as TStruct, 1)?.items ?? []) {
        const meta = getStruct(chunk as TStruct, 3);
        if (!meta) throw new Error('parquet stitch: a column chunk has no inline metadata');
        const dict = getI64(meta, 11);
        const first = Number(dict !== undefined && dict > 0n ? dict : getI64(meta, 9) ?? 0n);
        const size = Number(getI64(meta, 7) ?? 0n);
        dataStart = Math.min(dataStart, first);
        dataEnd = Math.max(dataEnd, first + size);
      }
    }
    if (dataStart < 4 || dataEnd > footerStart) {
      throw new Error(`parquet stitch: column chunks span bytes ${dataStart}..${dataEnd} outside the data area 4..${footerStart}`);
    }

    const out: Uint8Array[] = [];
    if (this.position === 0) {
      out.push(MAGIC);
      this.position = 4;
    }
    const delta = BigInt(this.position - 4);
    const shiftInData = (offset: bigint): bigint => (offset > 0n && offset < BigInt(dataEnd) ? offset + delta : offset);

    for (const g of groups) {
      const group = g as TStruct;
      const fileOffset = getI64(group, 5);
      if (fileOffset !== undefined) setField(group, 5, CType.I64, shiftInData(fileOffset));
      for (const c of getList(group, 1)?.items ?? []) {
        const chunk = c as TStruct;
        const meta = getStruct(chunk, 3)!;
        for (const id of [9, 10, 11]) {
          const value = getI64(meta, id);
          if (value !== undefined) setField(meta, id, CType.I64, shiftInData(value));
        }
        const chunkOffset = getI64(chunk, 2);
        if (chunkOffset !== undefined) setField(chunk, 2, CType.I64, shiftInData(chunkOffset));
        this.holdTail(file, chunk, meta, dataEnd, delta);
      }
      this.numRows += getI64(group, 3) ?? 0n;
      this.rowGroups.push(group);
      this.metadataBytes += encodeStruct(group).length;
    }

    out.push(file.subarray(4, dataEnd));
    this.position += dataEnd - 4;
    return out;
  }

  /** The page indexes, bloom filters and footer that close the file. */
  finish(emptyFile: () => Uint8Array): Uint8Array[] {
    if (!this.base) {
      const file = emptyFile();
      this.position = file.length;
      return [file];
    }
    const out: Uint8Array[] = [];
    // Conventional order (as parquet-mr and arrow-rs write them): bloom filters, column indexes, offset indexes.
    for (const kind of ['bloom', 'column', 'offset'] as const) {
      for (const item of this.tails) {
        if (item.kind !== kind) continue;
        const offset = BigInt(this.position);
        if (kind === 'bloom') {
          setField(item.meta, 14, CType.I64, offset);
          setField(item.meta, 15, CType.I32, item.bytes.length);
        } else if (kind === 'column') {
          setField(item.chunk, 6, CType.I64, offset);
          setField(item.chunk, 7, CType.I32, item.bytes.length);
        } else {
          setField(item.chunk, 4, CType.I64, offset);
          setField(item.chunk, 5, CType.I32, item.bytes.length);
        }
        out.push(item.bytes);
        this.position += item.bytes.length;
      }
    }
    const groups = this.rowGroups;
    groups.forEach((group, i) => {
      if (field(group, 7)) setField(group, 7, CType.I16, i);
    });
    setField(this.base, 3, CType.I64, this.numRows);
    setField(this.base, 4, CType.List, { kind: 'list', type: CType.List, elemType: CType.Struct, items: groups });
    const footer = encodeStruct(this.base);
    const length = new Uint8Array(4);
    new DataView(length.buffer).setUint32(0, footer.length, true);
    out.push(footer, length, MAGIC);
    this.position += footer.length + 8;
    this.tails.length = 0;
    this.tailBytes = 0;
    this.metadataBytes = 0;
    return out;
  }

  private holdTail(file: Uint8Array, chunk: TStruct, meta: TStruct, dataEnd: number, delta: bigint): void {
    const bloomOffset = getI64(meta, 14);
    if (bloomOffset !== undefined) {
      const bloomLength = getI64(meta, 15);
      if (bloomLength === undefined || bloomOffset <= 0n) {
        // Without a length the filter cannot be moved; a reader treats a missing filter as "maybe present".
        removeField(meta, 14);
        removeField(meta, 15);
      } else if (bloomOffset < BigInt(dataEnd)) {
        setField(meta, 14, CType.I64, bloomOffset + delta);
      } else {
        this.hold({ kind: 'bloom', chunk, meta, bytes: slice(file, bloomOffset, bloomLength) });
      }
    }
    const columnIndexOffset = getI64(chunk, 6);
    const columnIndexLength = getI64(chunk, 7);
    if (columnIndexOffset !== undefined && columnIndexLength !== undefined) {
      this.hold({ kind: 'column', chunk, meta, bytes: slice(file, columnIndexOffset, columnIndexLength) });
    }
    const offsetIndexOffset = getI64(chunk, 4);
    const offsetIndexLength = getI64(chunk, 5);
    if (offsetIndexOffset !== undefined && offsetIndexLength !== undefined) {
      const { struct } = decodeStruct(slice(file, offsetIndexOffset, offsetIndexLength));
      for (const location of getList(struct, 1)?.items ?? []) {
        const page = location as TStruct;
        const offset = getI64(page, 1);
        if (offset !== undefined) setField(page, 1, CType.I64, offset + delta);
      }
      this.hold({ kind: 'offset', chunk, meta, bytes: encodeStruct(struct) });
    }
  }

  private hold(item: TailItem): void {
    this.tails.push(item);
    this.tailBytes += item.bytes.length;
  }
}

interface TailItem {
  kind: 'bloom' | 'column' | 'offset';
  chunk: TStruct;
  meta: TStruct;
  bytes: Uint8Array;
}

const MAGIC = new Uint8Array([0x50, 0x41, 0x52, 0x31]);

function slice(file: Uint8Array, offset: bigint, length: bigint): Uint8Array {
  const start = Number(offset);
  const end = start + Number(length);
  if (start < 4 || end > file.length) throw new Error(`parquet stitch: index at ${start}..${end} lies outside the file`);
  // A copy: the part's buffer must not be kept alive by the small index slices.
  return file.slice(start, end);
}

/** Parses the footer (FileMetaData) of a complete, unencrypted Parquet file. */
export function readFooter(file: Uint8Array): { metadata: TStruct; footerStart: number } {
  const n = file.length;
  if (n < 12 || !hasMagic(file, 0) || !hasMagic(file, n - 4)) {
    throw new Error('not a Parquet file: it does not start and end with PAR1');
  }
  const footerLength = new DataView(file.buffer, file.byteOffset + n - 8, 4).getUint32(0, true);
  const footerStart = n - 8 - footerLength;
  if (footerStart < 4) throw new Error(`not a Parquet file: footer length ${footerLength} exceeds the file`);
  const { struct } = decodeStruct(file.subarray(footerStart, n - 8));
  return { metadata: struct, footerStart };
}

function hasMagic(file: Uint8Array, at: number): boolean {
  return file[at] === 0x50 && file[at + 1] === 0x41 && file[at + 2] === 0x52 && file[at + 3] === 0x31;
}
