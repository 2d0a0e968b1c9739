/**
 * What goes into a PostData stream: byte sources cut into chunks at newlines, records encoded
 * as NDJSON, and columnar batches.
 *
 * @module
 */

import type { Readable } from "node:stream";
import { create } from "@bufbuild/protobuf";
import {
  type ColumnBatch,
  ColumnBatchSchema,
  NumericColumnSchema,
  StringColumnSchema,
} from "./gen/anomalyd/v1/column_batch_pb.js";

/** The data bytes of one PostData message unless told otherwise: 1 MiB. */
export const DEFAULT_CHUNK_BYTES = 1 << 20;

/**
 * JSON documents to post (NDJSON, say): a Node Readable (such as `fs.createReadStream(path)`),
 * any async or sync iterable of byte chunks or strings, or all the bytes at once.
 */
export type DataSource =
  | Readable
  | AsyncIterable<Uint8Array | string>
  | Iterable<Uint8Array | string>
  | Uint8Array;

/** Records to post as NDJSON: any iterable of JSON-encodable objects. */
export type RecordSource = AsyncIterable<object> | Iterable<object>;

const NEWLINE = 0x0a;
// ColumnBatch.times marks a record without a valid time with the minimum int64.
const MISSING_TIME = -(2n ** 63n);
const encoder = new TextEncoder();

/**
 * Cuts a byte source into chunks of at most `chunkBytes`, each ending at a newline.
 *
 * A chunk is cut at the last newline within its `chunkBytes`, so each message holds whole
 * NDJSON lines; only a line longer than `chunkBytes` is cut inside, which the server
 * reassembles (it takes documents split at any byte). The input pieces are copied once.
 * When the source fails, the whole lines read before are yielded, then its error is thrown.
 *
 * @param source - the bytes; strings are encoded as UTF-8.
 * @param chunkBytes - the most bytes a chunk holds.
 */
export async function* ndjsonChunks(
  source: DataSource,
  chunkBytes: number = DEFAULT_CHUNK_BYTES,
): AsyncGenerator<Uint8Array, void, undefined> {
  checkChunkBytes(chunkBytes);
  const iterator = iterate(source);
  // Set once the source has ended or failed: only a source left early is told to stop.
  let sourceDone = false;
  let pieces: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      let next: IteratorResult<Uint8Array | string>;
      try {
        next = await iterator.next();
      } catch (error) {
        sourceDone = true;
        // The whole lines read before a failing source are sent; a partial one is not.
        const buffer = concat(pieces, size);
        const end = buffer.lastIndexOf(NEWLINE) + 1;
        if (end > 0) {
          yield buffer.subarray(0, end);
        }
        throw error;
      }
      if (next.done === true) {
        sourceDone = true;
        break;
      }
      const piece = typeof next.value === "string" ? encoder.encode(next.value) : next.value;
      if (piece.length === 0) {
        continue;
      }
      pieces.push(piece);
      size += piece.length;
      if (size < chunkBytes) {
        continue;
      }
      const buffer = pieces.length === 1 ? piece : concat(pieces, size);
      let start = 0;
      while (buffer.length - start >= chunkBytes) {
        const newline = buffer.subarray(start, start + chunkBytes).lastIndexOf(NEWLINE);
        const end = start + (newline >= 0 ? newline + 1 : chunkBytes);
        yield buffer.subarray(start, end);
        start = end;
      }
      pieces = start < buffer.length ? [buffer.subarray(start)] : [];
      size = buffer.length - start;
    }
  } finally {
    if (!sourceDone) {
      await iterator.return?.();
    }
  }
  if (size > 0) {
    yield concat(pieces, size);
  }
}

/**
 * Encodes records as NDJSON, in chunks of whole lines of at most `chunkBytes` (a chunk of one
 * record longer than that excepted).
 *
 * @param records - JSON-encodable objects; `JSON.stringify` encodes each.
 * @param chunkBytes - the most bytes a chunk holds.
 * @throws TypeError when a record cannot be encoded (a BigInt, a cycle).
 */
export async function* recordChunks(
  records: RecordSource,
  chunkBytes: number = DEFAULT_CHUNK_BYTES,
): AsyncGenerator<Uint8Array, void, undefined> {
  checkChunkBytes(chunkBytes);
  let lines: string[] = [];
  let size = 0;
  for await (const record of records) {
    const line = `${JSON.stringify(record)}\n`;
    const bytes = Buffer.byteLength(line);
    if (size + bytes > chunkBytes && size > 0) {
      yield encoder.encode(lines.join(""));
      lines = [];
      size = 0;
    }
    lines.push(line);
    size += bytes;
  }
  if (size > 0) {
    yield encoder.encode(lines.join(""));
  }
}

/** A column of a {@link columnBatch}: numbers (NaN or null for missing) or strings (null or undefined for missing). */
export type Column =
  | Float64Array
  | Float32Array
  | Int32Array
  | Uint32Array
  | ArrayLike<number | null | undefined>
  | ArrayLike<string | null | undefined>;

/** The times of a {@link columnBatch}: epoch milliseconds (NaN or null for none), or Dates. */
export type TimeColumn = ArrayLike<number | null | undefined> | ArrayLike<Date | null | undefined> | BigInt64Array;

/**
 * Builds a ColumnBatch, the fast path for clients that do not want to write JSON.
 *
 * @example
 * ```ts
 * columnBatch({ time: [1700000000000, 1700000060000], airline: ["AAL", "JZA"], responsetime: [132.1, 990.4] })
 * ```
 *
 * @param columns - name to values, one entry per record, in order. The `timeField` column
 *   holds the times; a column of numbers becomes a numeric column, a column of strings a
 *   dictionary-encoded string column (typed arrays are numeric; a column with no value at all
 *   is sent as a string column of missing values).
 * @param options - `timeField`, the name of the time column (default `"time"`).
 * @returns the batch, numeric then string columns in the order given.
 * @throws RangeError when the time column is missing or columns differ in length.
 * @throws TypeError when a column mixes numbers and strings, or holds other values.
 */
export function columnBatch(
  columns: Readonly<Record<string, Column | TimeColumn>>,
  options: { timeField?: string } = {},
): ColumnBatch {
  const timeField = options.timeField ?? "time";
  const timeColumn = columns[timeField];
  if (timeColumn === undefined) {
    throw new RangeError(`no time column ${JSON.stringify(timeField)} among ${JSON.stringify(Object.keys(columns))}`);
  }
  const times = toTimes(timeColumn);
  const batch = create(ColumnBatchSchema, { times });
  for (const [name, values] of Object.entries(columns)) {
    if (name === timeField) {
      continue;
    }
    if (values.length !== times.length) {
      throw new RangeError(`column ${JSON.stringify(name)} has ${values.length} values, times ${times.length}`);
    }
    if (isNumericColumn(name, values)) {
      const numbers = new Array<number>(values.length);
      for (let i = 0; i < values.length; i++) {
        const value = values[i] as number | null | undefined;
        numbers[i] = value ?? Number.NaN;
      }
      batch.numericColumns.push(create(NumericColumnSchema, { name, values: numbers }));
    } else {
      const index = new Map<string, number>();
      const codes = new Array<number>(values.length);
      for (let i = 0; i < values.length; i++) {
        const value = values[i] as string | null | undefined;
        if (value === null || value === undefined) {
          codes[i] = 0;
          continue;
        }
        let code = index.get(value);
        if (code === undefined) {
          code = index.size + 1;
          index.set(value, code);
        }
        codes[i] = code;
      }
      batch.stringColumns.push(create(StringColumnSchema, { name, dictionary: [...index.keys()], codes }));
    }
  }
  return batch;
}

function toTimes(column: Column | TimeColumn): bigint[] {
  if (column instanceof BigInt64Array) {
    return Array.from(column);
  }
  const times = new Array<bigint>(column.length);
  for (let i = 0; i < column.length; i++) {
    const value = column[i];
    const ms = value instanceof Date ? value.getTime() : value;
    if (typeof ms === "number" && Number.isFinite(ms)) {
      times[i] = BigInt(Math.trunc(ms));
    } else if (ms === null || ms === undefined || typeof ms === "number") {
      times[i] = MISSING_TIME;
    } else {
      throw new TypeError(`times[${i}] is ${typeof ms}; use epoch milliseconds or Dates`);
    }
  }
  return times;
}

function isNumericColumn(name: string, values: Column | TimeColumn): boolean {
  if (ArrayBuffer.isView(values)) {
    if (values instanceof BigInt64Array || values instanceof BigUint64Array) {
      throw new TypeError(`column ${JSON.stringify(name)} holds BigInts; use numbers`);
    }
    return true;
  }
  let kind: "number" | "string" | undefined;
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    if (value === null || value === undefined) {
      continue;
    }
    const found = typeof value;
    if (found !== "number" && found !== "string") {
      throw new TypeError(`column ${JSON.stringify(name)}[${i}] is ${found}; use numbers or strings`);
    }
    if (kind !== undefined && kind !== found) {
      throw new TypeError(`column ${JSON.stringify(name)} mixes numbers and strings (at ${i})`);
    }
    kind = found;
  }
  return kind === "number";
}

function iterate(source: DataSource): AsyncIterator<Uint8Array | string> | Iterator<Uint8Array | string> {
  if (source instanceof Uint8Array) {
    return [source][Symbol.iterator]();
  }
  if (Symbol.asyncIterator in source) {
    return (source as AsyncIterable<Uint8Array | string>)[Symbol.asyncIterator]();
  }
  return source[Symbol.iterator]();
}

function concat(pieces: readonly Uint8Array[], size: number): Uint8Array {
  if (pieces.length === 1 && pieces[0]?.length === size) {
    return pieces[0];
  }
  const buffer = new Uint8Array(size);
  let offset = 0;
  for (const piece of pieces) {
    buffer.set(piece, offset);
    offset += piece.length;
  }
  return buffer;
}

function checkChunkBytes(chunkBytes: number): void {
  if (!Number.isSafeInteger(chunkBytes) || chunkBytes < 1) {
    throw new RangeError(`chunkBytes must be a positive integer, not ${chunkBytes}`);
  }
}
