import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { durationMs, timestampMs, toDuration, toTimestamp } from "../src/convert.js";
import { parseDetector } from "../src/detector.js";

describe("toDuration", () => {
  it("reads Elasticsearch units, bare seconds in text and milliseconds as numbers", () => {
    const cases: [string | number, number][] = [
      ["5m", 300_000],
      ["1h", 3_600_000],
      ["30s", 30_000],
      ["90", 90_000],
      ["250ms", 250],
      ["1d", 86_400_000],
      ["1.5h", 5_400_000],
      [" 2 m ", 120_000],
      [1500, 1500],
      [0, 0],
    ];
    for (const [input, ms] of cases) {
      assert.equal(durationMs(toDuration(input)), ms, String(input));
    }
    assert.deepEqual(
      { s: toDuration("1500micros").seconds, n: toDuration("1500micros").nanos },
      { s: 0n, n: 1_500_000 },
    );
  });

  it("refuses what is not a span", () => {
    for (const bad of ["", "5x", "-5m", "m", "1e3s"]) {
      assert.throws(() => toDuration(bad), RangeError, bad);
    }
    assert.throws(() => toDuration(-1), RangeError);
    assert.throws(() => toDuration(Number.POSITIVE_INFINITY), RangeError);
  });
});

describe("toTimestamp", () => {
  it("reads Dates, epoch ms, digits, ISO 8601 (UTC without a zone) and now", () => {
    assert.equal(timestampMs(toTimestamp(new Date(1700000000123))), 1700000000123);
    assert.equal(timestampMs(toTimestamp(1700000000123)), 1700000000123);
    assert.equal(timestampMs(toTimestamp("1700000000123")), 1700000000123);
    assert.equal(timestampMs(toTimestamp("2023-11-14T22:13:20Z")), 1700000000000);
    assert.equal(timestampMs(toTimestamp("2023-11-14T22:13:20")), 1700000000000);
    assert.equal(timestampMs(toTimestamp("2023-11-14T23:13:20+01:00")), 1700000000000);
    assert.equal(timestampMs(toTimestamp("2023-11-14")), 1699920000000);
    assert.ok(Math.abs(timestampMs(toTimestamp("now")) - Date.now()) < 5_000);
    const before = toTimestamp(-1);
    assert.deepEqual({ s: before.seconds, n: before.nanos }, { s: -1n, n: 999_000_000 });
  });

  it("refuses what is not an instant", () => {
    assert.throws(() => toTimestamp("yesterday"), RangeError);
    assert.throws(() => toTimestamp(Number.NaN), RangeError);
  });
});

describe("parseDetector", () => {
  it("reads the shorthand", () => {
    assert.deepEqual(parseDetector("count"), { function: "count" });
    assert.deepEqual(parseDetector("mean(responsetime) by airline"), {
      function: "mean",
      fieldName: "responsetime",
      byFieldName: "airline",
    });
    assert.deepEqual(parseDetector('sum(bytes) BY "user agent" partition by host'), {
      function: "sum",
      fieldName: "bytes",
      byFieldName: "user agent",
      partitionFieldName: "host",
    });
    assert.deepEqual(parseDetector("high_count over clientip partitionfield=host"), {
      function: "high_count",
      overFieldName: "clientip",
      partitionFieldName: "host",
    });
    assert.deepEqual(parseDetector("count()"), { function: "count" });
  });

  it("says where text leaves the grammar", () => {
    assert.throws(() => parseDetector("mean(responsetime"), /expected '\)', found the end/);
    assert.throws(() => parseDetector("mean(x) with y"), /expected by, over or partition, found "with"/);
    assert.throws(() => parseDetector("mean(x) by a by b"), /given twice/);
    assert.throws(() => parseDetector('mean("x'), /unterminated quote/);
    assert.throws(() => parseDetector(""), /expected a function name/);
  });
});
