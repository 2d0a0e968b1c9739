/**
 * The interop driver of clients/INTEROP.md: one command per run against a real server, one
 * JSON object per line on stdout, a failed call printed as {"error": ...} with exit status 3.
 *
 * @module
 */

import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import { Readable } from "node:stream";
import { parseArgs } from "node:util";
import { AnomalydError, Client, type ClientOptions, ndjsonChunks, timestampMs } from "../src/index.js";

const USAGE = `usage: interop --target HOST:PORT [--ca FILE] [--cert FILE --key FILE] [--api-key CREDENTIAL]
  example --job J --file F
  put-job --job J --function FUNCTION [--field-name FIELD]
  get-jobs --job EXPRESSION --allow-no-match true|false
  open --job J
  post --job J --file F [--hold]
  bench --job J --records N`;

const TOP_RECORDS = 10;

/** A command's failure that is no call's: a bad argument. */
class UsageError extends Error {}

type Args = Record<string, string | boolean | undefined>;

function print(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

function need(args: Args, name: string): string {
  const value = args[name];
  if (typeof value !== "string" || value === "") {
    throw new UsageError(`--${name} is required`);
  }
  return value;
}

async function example(client: Client, args: Args): Promise<void> {
  const jobId = need(args, "job");
  await client.putJob(jobId, {
    detectors: ["mean(responsetime) by airline"],
    bucketSpan: "5m",
    influencers: ["airline"],
    timeField: "time",
    timeFormat: "epoch",
  });
  await client.openJob(jobId);
  await client.postData(jobId, createReadStream(need(args, "file")));
  await client.flushJob(jobId);
  const { records } = await client.getRecords(jobId, { sort: "record_score", desc: true, size: TOP_RECORDS });
  for (const record of records) {
    print({
      timestamp: record.timestamp === undefined ? null : timestampMs(record.timestamp),
      record_score: record.recordScore,
      probability: record.probability,
      function: record.function,
      by_field_value: record.byFieldValue,
      actual: record.actual,
      typical: record.typical,
    });
  }
  await client.closeJob(jobId);
  await client.deleteJob(jobId);
}

async function putJob(client: Client, args: Args): Promise<void> {
  const jobId = need(args, "job");
  const fieldName = typeof args["field-name"] === "string" ? args["field-name"] : undefined;
  const job = await client.putJob(jobId, { detectors: [{ function: need(args, "function"), fieldName }], bucketSpan: "5m" });
  print({ job_id: job.jobId });
}

async function getJobs(client: Client, args: Args): Promise<void> {
  const allow = need(args, "allow-no-match");
  if (allow !== "true" && allow !== "false") {
    throw new UsageError(`--allow-no-match takes true or false, not ${allow}`);
  }
  const jobs = await client.getJobs(need(args, "job"), { allowNoMatch: allow === "true" });
  print({ job_ids: jobs.map((job) => job.jobId) });
}

async function open(client: Client, args: Args): Promise<void> {
  const response = await client.openJob(need(args, "job"));
  print({ opened: response.opened });
}

/** The chunks of the reader upload, then {"sent": true} and a wait for a line on stdin. */
async function* holding(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  yield* chunks;
  print({ sent: true });
  const lines = createInterface({ input: process.stdin });
  try {
    for await (const _ of lines) {
      break;
    }
  } finally {
    lines.close();
    process.stdin.destroy();
  }
}

async function post(client: Client, args: Args): Promise<void> {
  const jobId = need(args, "job");
  const file = createReadStream(need(args, "file"));
  // --hold must end the stream only after every message is sent: the chunks are cut here, as
  // postData cuts them, and handed over one message each.
  const counts =
    args.hold === true
      ? await client.postChunks(jobId, holding(ndjsonChunks(file)))
      : await client.postData(jobId, file);
  print({
    data_counts: {
      processed_record_count: Number(counts.processedRecordCount),
      input_record_count: Number(counts.inputRecordCount),
      invalid_date_count: Number(counts.invalidDateCount),
      out_of_order_timestamp_count: Number(counts.outOfOrderTimestampCount),
      input_bytes: Number(counts.inputBytes),
    },
  });
}

async function bench(client: Client, args: Args): Promise<void> {
  const jobId = need(args, "job");
  const records = Number(need(args, "records"));
  if (!Number.isSafeInteger(records) || records < 0) {
    throw new UsageError(`--records takes a count, not ${String(args.records)}`);
  }
  // Encoded 10,000 lines at a time: one string of a million lines takes ten times as long.
  const parts: Buffer[] = [];
  let text = "";
  for (let i = 0; i < records; i++) {
    text += `{"time": ${1700000000 + i}, "airline": "A${i % 19}", "responsetime": ${i % 997}}\n`;
    if ((i + 1) % 10_000 === 0 || i === records - 1) {
      parts.push(Buffer.from(text));
      text = "";
    }
  }
  const data = Buffer.concat(parts);
  const started = performance.now();
  const counts = await client.postData(jobId, Readable.from(data));
  const seconds = (performance.now() - started) / 1000;
  print({ records, seconds, processed_record_count: Number(counts.processedRecordCount) });
}

const COMMANDS: Readonly<Record<string, (client: Client, args: Args) => Promise<void>>> = {
  example,
  "put-job": putJob,
  "get-jobs": getJobs,
  open,
  post,
  bench,
};

async function main(argv: readonly string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      target: { type: "string" },
      ca: { type: "string" },
      cert: { type: "string" },
      key: { type: "string" },
      "api-key": { type: "string" },
      job: { type: "string" },
      file: { type: "string" },
      function: { type: "string" },
      "field-name": { type: "string" },
      "allow-no-match": { type: "string" },
      hold: { type: "boolean" },
      records: { type: "string" },
    },
  });
  const [name, ...rest] = positionals;
  const command = name === undefined ? undefined : COMMANDS[name];
  if (command === undefined || rest.length > 0) {
    throw new UsageError(name === undefined ? "no command" : `unknown command ${[name, ...rest].join(" ")}`);
  }
  const options: ClientOptions = { timeoutMs: 120_000 };
  if (values.ca !== undefined || values.cert !== undefined || values.key !== undefined) {
    options.tls = { caFile: values.ca, certFile: values.cert, keyFile: values.key };
  }
  if (values["api-key"] !== undefined) {
    options.apiKey = values["api-key"];
  }
  const client = new Client(need(values, "target"), options);
  try {
    await command(client, values);
    return 0;
  } catch (error) {
    if (!(error instanceof AnomalydError)) {
      throw error;
    }
    print({
      error: {
        code: error.code,
        reason: error.reason,
        message: error.message,
        metadata: error.metadata,
        field_violations: error.fieldViolations.map((v) => [v.field, v.description]),
      },
    });
    return 3;
  } finally {
    client.close();
  }
}

main(process.argv.slice(2)).then(
  (status) => {
    process.exitCode = status;
  },
  (error: unknown) => {
    const usage = error instanceof UsageError || (error as { code?: unknown }).code === "ERR_PARSE_ARGS_UNKNOWN_OPTION";
    process.stderr.write(`interop: ${error instanceof Error ? error.message : String(error)}\n`);
    if (usage) {
      process.stderr.write(`${USAGE}\n`);
    }
    process.exitCode = usage ? 2 : 1;
  },
);
