/**
 * Spans and instants as people write them, to and from the contract's Duration and Timestamp.
 *
 * @module
 */

import { create } from "@bufbuild/protobuf";
import {
  type Duration,
  DurationSchema,
  type Timestamp,
  TimestampSchema,
  timestampMs,
} from "@bufbuild/protobuf/wkt";

/**
 * A span: text with an Elasticsearch unit (`"5m"`, `"1h"`, `"30s"`, `"250ms"`, `"1d"`; a bare
 * number in text is seconds, as Elasticsearch reads it), a number of milliseconds, or a
 * Duration message.
 */
export type DurationInput = string | number | Duration;

/**
 * An instant: a Date, epoch milliseconds, ISO 8601 text (without a zone it is UTC), epoch
 * milliseconds as digits, `"now"`, or a Timestamp message.
 */
export type InstantInput = Date | number | string | Timestamp;

// Nanoseconds per Elasticsearch unit; "m" is minutes, as in bucket_span "5m".
const UNIT_NANOS: Readonly<Record<string, bigint>> = {
  d: 86_400_000_000_000n,
  h: 3_600_000_000_000n,
  m: 60_000_000_000n,
  s: 1_000_000_000n,
  ms: 1_000_000n,
  micros: 1_000n,
  nanos: 1n,
};
const DURATION = /^\s*(\d+)(?:\.(\d+))?\s*(d|h|ms|m|s|micros|nanos)?\s*$/;
const EPOCH_MS = /^\s*-?\d+\s*$/;
// ISO 8601 text ending in Z or an offset; without one it is read as UTC, not local time.
const HAS_ZONE = /(Z|[+-]\d\d:?\d\d)$/i;

/**
 * Reads a span.
 *
 * @param value - see {@link DurationInput}.
 * @returns the Duration message.
 * @throws RangeError when the value is negative, not finite or not a span.
 */
export function toDuration(value: DurationInput): Duration {
  if (typeof value === "object") {
    return value;
  }
  let nanos: bigint;
  if (typeof value === "number") {
    if (!Number.isFinite(value) || value < 0) {
      throw new RangeError(`not a duration: ${value} (use milliseconds, or text such as 5m)`);
    }
    nanos = BigInt(Math.round(value * 1e6));
  } else {
    const match = DURATION.exec(value);
    if (match === null) {
      throw new RangeError(`not a duration: ${JSON.stringify(value)} (use e.g. 5m, 1h, 30s or 250ms)`);
    }
    const [, whole = "0", fraction = "", unit = "s"] = match;
    const size = UNIT_NANOS[unit] ?? 1n;
    // Exact decimal arithmetic: "1.5h" is 5,400 s with no float rounding.
    const scale = 10n ** BigInt(fraction.length);
    nanos = (BigInt(whole + fraction) * size) / scale;
  }
  return create(DurationSchema, { seconds: nanos / 1_000_000_000n, nanos: Number(nanos % 1_000_000_000n) });
}

/** A Duration in milliseconds. */
export function durationMs(duration: Duration): number {
  return Number(duration.seconds) * 1000 + duration.nanos / 1e6;
}

/**
 * Reads an instant the way Elasticsearch reads flush and reset times.
 *
 * @param value - see {@link InstantInput}.
 * @returns the Timestamp message.
 * @throws RangeError when the value is not an instant.
 */
export function toTimestamp(value: InstantInput): Timestamp {
  if (value instanceof Date) {
    return fromMs(value.getTime(), value);
  }
  if (typeof value === "number") {
    return fromMs(value, value);
  }
  if (typeof value === "object") {
    return value;
  }
  if (value.trim().toLowerCase() === "now") {
    return fromMs(Date.now(), value);
  }
  if (EPOCH_MS.test(value)) {
    return fromMs(Number(value), value);
  }
  const text = value.trim();
  // A date alone (2024-01-02) is UTC to Date.parse already; a date and time without a zone is
  // local time to it, so give it the Z that the server's and Python's reading implies.
  const withZone = text.length > 10 && !HAS_ZONE.test(text) ? `${text}Z` : text;
  return fromMs(Date.parse(withZone), value);
}

/** A Timestamp in epoch milliseconds. */
export { timestampMs };

function fromMs(ms: number, original: unknown): Timestamp {
  if (!Number.isFinite(ms)) {
    throw new RangeError(`not a time: ${JSON.stringify(original)} (use a Date, epoch ms, ISO 8601 or "now")`);
  }
  const seconds = Math.floor(ms / 1000);
  // Epoch ms as a float can carry a fraction of a millisecond; keep it to the nanosecond.
  const nanos = Math.round((ms - seconds * 1000) * 1e6);
  return create(TimestampSchema, { seconds: BigInt(seconds), nanos: Math.min(nanos, 999_999_999) });
}

/** toDuration, passing undefined through (an unset Duration field). */
export function optionalDuration(value: DurationInput | undefined): Duration | undefined {
  return value === undefined ? undefined : toDuration(value);
}

/** toTimestamp, passing undefined through (an unset Timestamp field). */
export function optionalTimestamp(value: InstantInput | undefined): Timestamp | undefined {
  return value === undefined ? undefined : toTimestamp(value);
}
