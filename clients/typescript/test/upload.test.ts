import assert from "node:assert/strict";
import { Readable } from "node:stream";
import { describe, it } from "node:test";
import { ColumnBatchSchema } from "../src/gen/anomalyd/v1/column_batch_pb.js";
import { create } from "@bufbuild/protobuf";
import { columnBatch, ndjsonChunks, recordChunks } from "../src/upload.js";

const decoder = new TextDecoder();

async function collect(chunks: AsyncIterable<Uint8Array>): Promise<string[]> {
  const out: string[] = [];
  for await (const chunk of chunks) {
    out.push(decoder.decode(chunk));
  }
  return out;
}

function lines(count: number, width = 10): string {
  let text = "";
  for (let i = 0; i < count; i++) {
    text += `${String(i).padStart(width - 1, "0")}\n`;
  }
  return text;
}

describe("ndjsonChunks", () => {
  it("cuts at the last newline within each chunk and loses no byte", async () => {
    const text = lines(1000);
    for (const pieceSize of [1, 7, 64, 1000, 100_000]) {
      const pieces: string[] = [];
      for (let i = 0; i < text.length; i += pieceSize) pieces.push(text.slice(i, i + pieceSize));
      const chunks = await collect(ndjsonChunks(Readable.from(pieces.map((p) => Buffer.from(p))), 95));
      assert.equal(chunks.join(""), text, `pieces of ${pieceSize}`);
      for (const chunk of chunks) {
        assert.ok(chunk.length <= 95);
        assert.ok(chunk.endsWith("\n"));
        // Whole lines of 10 bytes: 9 per chunk of 95.
        assert.equal(chunk.length, chunk === chunks.at(-1) ? chunk.length : 90);
      }
    }
  });

  it("takes all the bytes at once, strings, and sync iterables", async () => {
    const text = lines(50);
    assert.equal((await collect(ndjsonChunks(Buffer.from(text), 64))).join(""), text);
    assert.equal((await collect(ndjsonChunks([text.slice(0, 33), text.slice(33)], 64))).join(""), text);
    assert.deepEqual(await collect(ndjsonChunks([], 64)), []);
    assert.deepEqual(await collect(ndjsonChunks([new Uint8Array(0), ""], 64)), []);
  });

  it("cuts a line longer than a chunk inside it, and keeps a last line without a newline", async () => {
    const long = `${"x".repeat(250)}\nshort\ntail`;
    const chunks = await collect(ndjsonChunks([long], 100));
    assert.deepEqual(chunks, ["x".repeat(100), "x".repeat(100), `${"x".repeat(50)}\nshort\ntail`]);
  });

  it("keeps multi-byte characters whole across pieces", async () => {
    const text = "{\"a\": \"é😀\"}\n".repeat(20);
    const bytes = Buffer.from(text);
    const pieces = [bytes.subarray(0, 7), bytes.subarray(7, 101), bytes.subarray(101)];
    assert.equal((await collect(ndjsonChunks(pieces, 40))).join(""), text);
  });

  it("refuses a chunk size that is not a positive integer", async () => {
    await assert.rejects(collect(ndjsonChunks([], 0)), RangeError);
  });
});

describe("recordChunks", () => {
  it("encodes records as NDJSON in chunks of whole lines", async () => {
    const records = Array.from({ length: 100 }, (_, i) => ({ time: 1700000000 + i, airline: "AAL" }));
    const chunks = await collect(recordChunks(records, 200));
    const text = chunks.join("");
    assert.deepEqual(text.trimEnd().split("\n").map((line) => JSON.parse(line) as unknown), records);
    for (const chunk of chunks) {
      assert.ok(Buffer.byteLength(chunk) <= 200 && chunk.endsWith("\n"));
    }
  });

  it("sends a record longer than a chunk alone, and reads async iterables", async () => {
    async function* records(): AsyncGenerator<object> {
      yield { a: 1 };
      yield { b: "y".repeat(50) };
      yield { c: 3 };
    }
    const chunks = await collect(recordChunks(records(), 20));
    assert.deepEqual(chunks, ['{"a":1}\n', `{"b":"${"y".repeat(50)}"}\n`, '{"c":3}\n']);
  });

  it("throws the encoder's error for a record JSON cannot hold", async () => {
    await assert.rejects(collect(recordChunks([{ n: 1n }])), TypeError);
  });
});

describe("columnBatch", () => {
  it("builds numeric and dictionary-encoded string columns", () => {
    const batch = columnBatch({
      time: [1700000000000, new Date(1700000060000), null, Number.NaN] as unknown as number[],
      responsetime: [1.5, null, Number.NaN, 4],
      airline: ["AAL", "JZA", null, "AAL"],
    });
    assert.deepEqual(batch.times, [1700000000000n, 1700000060000n, -(2n ** 63n), -(2n ** 63n)]);
    assert.equal(batch.numericColumns.length, 1);
    assert.equal(batch.numericColumns[0]?.name, "responsetime");
    assert.deepEqual(batch.numericColumns[0]?.values, [1.5, Number.NaN, Number.NaN, 4]);
    assert.deepEqual(batch.stringColumns[0]?.dictionary, ["AAL", "JZA"]);
    assert.deepEqual(batch.stringColumns[0]?.codes, [1, 2, 0, 1]);
  });

  it("reads typed arrays and another time field", () => {
    const batch = columnBatch({ ts: BigInt64Array.from([5n, 6n]), v: Float64Array.from([1, 2]) }, { timeField: "ts" });
    assert.deepEqual(batch.times, [5n, 6n]);
    assert.deepEqual(batch.numericColumns[0]?.values, [1, 2]);
    assert.equal(create(ColumnBatchSchema, batch).times.length, 2);
  });

  it("refuses a missing time column, uneven columns and mixed values", () => {
    assert.throws(() => columnBatch({ t: [1] }), RangeError);
    assert.throws(() => columnBatch({ time: [1, 2], v: [1] }), RangeError);
    assert.throws(() => columnBatch({ time: [1, 2], v: [1, "a"] as unknown as number[] }), TypeError);
    assert.throws(() => columnBatch({ time: [1], v: [true] as unknown as number[] }), TypeError);
  });
});
