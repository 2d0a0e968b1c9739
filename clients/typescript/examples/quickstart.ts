/**
 * The client's quickstart: create a job, open it, stream an NDJSON file into it, flush, print
 * the top anomaly records, close and delete it.
 *
 * ```sh
 * npm run example -- [FILE.ndjson]
 * ```
 *
 * FILE holds `{"time": <epoch s>, "airline": ..., "responsetime": ...}` lines; without one, two
 * days of made-up data with a planted slowdown are written to a temporary file. The server is
 * `$ANOMALYD_TARGET` (default 127.0.0.1:50051); `$ANOMALYD_API_KEY`, `$ANOMALYD_TLS_CA`,
 * `$ANOMALYD_CLIENT_CERT` and `$ANOMALYD_CLIENT_KEY` are read as the `anomalyd` CLI reads them.
 *
 * @module
 */

import { createReadStream, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AnomalydError, Client, type ClientOptions, DEFAULT_TARGET, Reason, timestampDate } from "../src/index.js";

const env = process.env;
const options: ClientOptions = { apiKey: env.ANOMALYD_API_KEY };
if (env.ANOMALYD_TLS_CA !== undefined || env.ANOMALYD_CLIENT_CERT !== undefined) {
  options.tls = { caFile: env.ANOMALYD_TLS_CA, certFile: env.ANOMALYD_CLIENT_CERT, keyFile: env.ANOMALYD_CLIENT_KEY };
}
const client = new Client(env.ANOMALYD_TARGET ?? DEFAULT_TARGET, options);
const jobId = "quickstart-ts";
const file = process.argv[2] ?? makeData();

try {
  await client.putJob(jobId, {
    detectors: ["mean(responsetime) by airline"],
    bucketSpan: "5m",
    influencers: ["airline"],
  });
  await client.openJob(jobId);
  const counts = await client.postData(jobId, createReadStream(file), {
    onProgress: (p) => process.stderr.write(`\rsent ${p.recordsSent} records`),
  });
  process.stderr.write("\n");
  console.log(`processed ${counts.processedRecordCount} of ${counts.inputRecordCount} records`);
  await client.flushJob(jobId);

  const { records, count } = await client.getRecords(jobId, { sort: "record_score", desc: true, size: 5 });
  console.log(`top ${records.length} of ${count} anomaly records:`);
  for (const r of records) {
    const when = r.timestamp === undefined ? "?" : timestampDate(r.timestamp).toISOString();
    console.log(`  ${when}  ${r.byFieldValue.padEnd(4)} score ${r.recordScore.toFixed(1).padStart(5)}  ` +
      `actual ${r.actual[0]?.toFixed(0)} ms, typical ${r.typical[0]?.toFixed(0)} ms`);
  }
} catch (error) {
  if (error instanceof AnomalydError && error.reason === Reason.JOB_ALREADY_EXISTS) {
    console.error(`job ${jobId} exists from an earlier run; delete it: anomalyd delete ${jobId} --force`);
    process.exitCode = 1;
  } else {
    throw error;
  }
} finally {
  // Close and delete even after a failure, so that the example can run again.
  await client.closeJob(jobId).catch(() => undefined);
  await client.deleteJob(jobId, { force: true }).catch(() => undefined);
  client.close();
}

/** Two days of response times of three airlines, one minute apart, JBU slow for an hour. */
function makeData(): string {
  const start = Date.UTC(2024, 1, 5) / 1000;
  const levels: Record<string, number> = { AAL: 110, JBU: 320, KLM: 210 };
  const slow = start + 36 * 3600;
  let seed = 7;
  const noise = (): number => {
    seed = (seed * 48271) % 2147483647;
    return seed / 2147483647 - 0.5;
  };
  const lines: string[] = [];
  for (let t = start; t < start + 48 * 3600; t += 60) {
    for (const [airline, level] of Object.entries(levels)) {
      const factor = airline === "JBU" && t >= slow && t < slow + 3600 ? 4 : 1;
      const responsetime = level * factor * (1 + 0.2 * noise());
      lines.push(JSON.stringify({ time: t, airline, responsetime: Math.round(responsetime * 10) / 10 }));
    }
  }
  const path = join(mkdtempSync(join(tmpdir(), "anomalyd-quickstart-")), "airlines.ndjson");
  writeFileSync(path, `${lines.join("\n")}\n`);
  return path;
}
