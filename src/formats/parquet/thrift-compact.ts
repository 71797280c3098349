/**
 * A generic reader and writer for the Thrift compact protocol, just enough to rewrite Parquet footers.
 *
 * Why generic: the Parquet stitcher only needs to shift a handful of offsets, and decoding into an
 * untyped tree that keeps every field it does not understand means a footer written by a newer
 * parquet-wasm (new optional fields) survives the rewrite unchanged.
 */

/** Compact-protocol type codes. Booleans in a struct carry their value in the type nibble. */
export enum CType {
  Stop = 0,
  True = 1,
  False = 2,
  I8 = 3,
  I16 = 4,
  I32 = 5,
  I64 = 6,
  Double = 7,
  Binary = 8,
  List = 9,
  Set = 10,
  Map = 11,
  Struct = 12,
}

export type TValue = boolean | number | bigint | Uint8Array | TStruct | TList | TMap;

export interface TField {
  id: number;
  /** The element type as it will be written; True/False for a boolean field. */
  type: CType;
  value: TValue;
}

export interface TStruct {
  kind: 'struct';
  fields: TField[];
}

export interface TList {
  kind: 'list';
  /** List or Set. */
  type: CType.List | CType.Set;
  elemType: CType;
  /** Booleans inside a collection are kept as their raw byte, because implementations disagree on it. */
  items: TValue[];
}

export interface TMap {
  kind: 'map';
  keyType: CType;
  valueType: CType;
  entries: [TValue, TValue][];
}

export class ThriftError extends Error {}

export class CompactReader {
  pos: number;

  constructor(
    private readonly buf: Uint8Array,
    start = 0,
  ) {
    this.pos = start;
  }

  private byte(): number {
    const b = this.buf[this.pos++];
    if (b === undefined) throw new ThriftError(`thrift: unexpected end of data at byte ${this.pos - 1}`);
    return b;
  }

  private varint(): bigint {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      const b = this.byte();
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result;
      shift += 7n;
      if (shift > 70n) throw new ThriftError(`thrift: varint too long at byte ${this.pos}`);
    }
  }

  private smallVarint(): number {
    let result = 0;
    let shift = 0;
    for (;;) {
      const b = this.byte();
      result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return result;
      shift += 7;
      if (shift > 49) throw new ThriftError(`thrift: length varint too long at byte ${this.pos}`);
    }
  }

  private zigzag(): bigint {
    const n = this.varint();
    return (n >> 1n) ^ -(n & 1n);
  }

  readStruct(): TStruct {
    const fields: TField[] = [];
    let lastId = 0;
    for (;;) {
      const header = this.byte();
      const type = (header & 0x0f) as CType;
      if (type === CType.Stop) return { kind: 'struct', fields };
      const delta = header >> 4;
      const id = delta === 0 ? Number(this.zigzag()) : lastId + delta;
      lastId = id;
      const value = type === CType.True ? true : type === CType.False ? false : this.readValue(type);
      fields.push({ id, type, value });
    }
  }

  private readValue(type: CType): TValue {
    switch (type) {
      case CType.True:
      case CType.False:
        // Only reached for collection elements: keep the raw byte.
        return this.byte();
      case CType.I8: {
        const b = this.byte();
        return b > 127 ? b - 256 : b;
      }
      case CType.I16:
      case CType.I32:
        return Number(this.zigzag());
      case CType.I64:
        return this.zigzag();
      case CType.Double: {
        const view = new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, 8);
        this.pos += 8;
        return view.getFloat64(0, true);
      }
      case CType.Binary: {
        const length = this.smallVarint();
        if (this.pos + length > this.buf.length) throw new ThriftError(`thrift: binary runs past the end at byte ${this.pos}`);
        // A copy, so that a decoded footer does not keep the whole file it came from alive.
        const out = this.buf.slice(this.pos, this.pos + length);
        this.pos += length;
        return out;
      }
      case CType.List:
      case CType.Set: {
        const header = this.byte();
        const elemType = (header & 0x0f) as CType;
        let size = header >> 4;
        if (size === 15) size = this.smallVarint();
        const items: TValue[] = new Array(size);
        for (let i = 0; i < size; i++) items[i] = this.readValue(elemType);
        return { kind: 'list', type, elemType, items };
      }
      case CType.Map: {
        const size = this.smallVarint();
        if (size === 0) return { kind: 'map', keyType: CType.Binary, valueType: CType.Binary, entries: [] };
        const types = this.byte();
        const keyType = (types >> 4) as CType;
        const valueType = (types & 0x0f) as CType;
        const entries: [TValue, TValue][] = new Array(size);
        for (let i = 0; i < size; i++) entries[i] = [this.readValue(keyType), this.readValue(valueType)];
        return { kind: 'map', keyType, valueType, entries };
      }
      case CType.Struct:
        return this.readStruct();
      default:
        throw new ThriftError(`thrift: unknown compact type ${String(type)} at byte ${this.pos}`);
    }
  }
}

export class CompactWriter {
  private buf = new Uint8Array(256);
  private pos = 0;

  bytes(): Uint8Array {
    return this.buf.slice(0, this.pos);
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }

  private byte(b: number): void {
    this.ensure(1);
    this.buf[this.pos++] = b & 0xff;
  }

  private varint(n: bigint): void {
    this.ensure(10);
    let v = n;
    while (v >= 0x80n) {
      this.buf[this.pos++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    this.buf[this.pos++] = Number(v);
  }

  private zigzag(n: bigint): void {
    this.varint(n >= 0n ? n << 1n : ((-n) << 1n) - 1n);
  }

  writeStruct(struct: TStruct): void {
    let lastId = 0;
    for (const field of struct.fields) {
      const delta = field.id - lastId;
      if (delta > 0 && delta <= 15) this.byte((delta << 4) | field.type);
      else {
        this.byte(field.type);
        this.zigzag(BigInt(field.id));
      }
      lastId = field.id;
      if (field.type !== CType.True && field.type !== CType.False) this.writeValue(field.type, field.value);
    }
    this.byte(CType.Stop);
  }

  private writeValue(type: CType, value: TValue): void {
    switch (type) {
      case CType.True:
      case CType.False:
      case CType.I8:
        this.byte(Number(value));
        return;
      case CType.I16:
      case CType.I32:
        this.zigzag(BigInt(value as number));
        return;
      case CType.I64:
        this.zigzag(typeof value === 'bigint' ? value : BigInt(value as number));
        return;
      case CType.Double: {
        this.ensure(8);
        new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, 8).setFloat64(0, value as number, true);
        this.pos += 8;
        return;
      }
      case CType.Binary: {
        const bytes = value as Uint8Array;
        this.varint(BigInt(bytes.length));
        this.ensure(bytes.length);
        this.buf.set(bytes, this.pos);
        this.pos += bytes.length;
        return;
      }
      case CType.List:
      case CType.Set: {
        const list = value as TList;
        const size = list.items.length;
        if (size < 15) this.byte((size << 4) | list.elemType);
        else {
          this.byte(0xf0 | list.elemType);
          this.varint(BigInt(size));
        }
        for (const item of list.items) this.writeValue(list.elemType, item);
        return;
      }
      case CType.Map: {
        const map = value as TMap;
        this.varint(BigInt(map.entries.length));
        if (map.entries.length === 0) return;
        this.byte((map.keyType << 4) | map.valueType);
        for (const [k, v] of map.entries) {
          this.writeValue(map.keyType, k);
          this.writeValue(map.valueType, v);
        }
        return;
      }
      case CType.Struct:
        this.writeStruct(value as TStruct);
        return;
      default:
        throw new ThriftError(`thrift: cannot write compact type ${String(type)}`);
    }
  }
}

export function decodeStruct(bytes: Uint8Array, start = 0): { struct: TStruct; end: number } {
  const reader = new CompactReader(bytes, start);
  const struct = reader.readStruct();
  return { struct, end: reader.pos };
}

export function encodeStruct(struct: TStruct): Uint8Array {
  const writer = new CompactWriter();
  writer.writeStruct(struct);
  return writer.bytes();
}

export function field(struct: TStruct, id: number): TField | undefined {
  return struct.fields.find((f) => f.id === id);
}

export function getI64(struct: TStruct, id: number): bigint | undefined {
  const value = field(struct, id)?.value;
  return typeof value === 'bigint' ? value : typeof value === 'number' ? BigInt(value) : undefined;
}

export function getStruct(struct: TStruct, id: number): TStruct | undefined {
  const value = field(struct, id)?.value;
  return value !== undefined && typeof value === 'object' && 'kind' in value && value.kind === 'struct' ? value : undefined;
}

export function getList(struct: TStruct, id: number): TList | undefined {
  const value = field(struct, id)?.value;
  return value !== undefined && typeof value === 'object' && 'kind' in value && value.kind === 'list' ? value : undefined;
}

/** Sets (or adds, keeping fields ordered by id) a field. */
export function setField(struct: TStruct, id: number, type: CType, value: TValue): void {
  const existing = field(struct, id);
  if (existing) {
    existing.type = type;
    existing.value = value;
    return;
  }
  const at = struct.fields.findIndex((f) => f.id > id);
  const entry = { id, type, value };
  if (at < 0) struct.fields.push(entry);
  else struct.fields.splice(at, 0, entry);
}

export function removeField(struct: TStruct, id: number): void {
  struct.fields = struct.fields.filter((f) => f.id !== id);
}
