/**
 * The TypeScript client of anomalyd, a gRPC service that runs Elasticsearch-ML-style
 * anomaly-detection jobs.
 *
 * @example
 * ```ts
 * import { createReadStream } from "node:fs";
 * import { Client } from "@anomalyd/client";
 *
 * const client = new Client("127.0.0.1:50051");
 * await client.putJob("web", { detectors: ["mean(responsetime) by airline"], bucketSpan: "15m" });
 * await client.openJob("web");
 * await client.postData("web", createReadStream("data.ndjson"));
 * ```
 *
 * @packageDocumentation
 */

export {
  Client,
  DEFAULT_TARGET,
  type CallOptions,
  type ClientOptions,
  type CloseJobOptions,
  type DeleteJobOptions,
  type FlushJobOptions,
  type GetBucketsOptions,
  type GetInfluencersOptions,
  type GetModelSnapshotsOptions,
  type GetOverallBucketsOptions,
  type GetRecordsOptions,
  type MatchOptions,
  type OpenJobOptions,
  type Pem,
  type PostColumnsOptions,
  type PostDataOptions,
  type PostOptions,
  type Progress,
  type PutJobOptions,
  type RawClients,
  type ResultQuery,
  type TlsOptions,
} from "./client.js";
export {
  AnomalydError,
  type AnomalydErrorInit,
  type FieldViolation,
  Reason,
  StatusCode,
  statusCodeName,
} from "./errors.js";
export { type DurationInput, type InstantInput, durationMs, timestampMs, toDuration, toTimestamp } from "./convert.js";
export { type DetectorInit, type DetectorSpec, parseDetector } from "./detector.js";
export {
  type Column,
  type DataSource,
  DEFAULT_CHUNK_BYTES,
  type RecordSource,
  type TimeColumn,
  columnBatch,
  ndjsonChunks,
  recordChunks,
} from "./upload.js";
/** Converts a Timestamp message to a Date. */
export { timestampDate } from "@bufbuild/protobuf/wkt";
export * from "./gen/anomalyd/v1/column_batch_pb.js";
export * from "./gen/anomalyd/v1/data_counts_pb.js";
export * from "./gen/anomalyd/v1/job_pb.js";
export * from "./gen/anomalyd/v1/job_service_pb.js";
export * from "./gen/anomalyd/v1/job_stats_pb.js";
export * from "./gen/anomalyd/v1/model_snapshot_pb.js";
export * from "./gen/anomalyd/v1/model_snapshot_service_pb.js";
export * from "./gen/anomalyd/v1/result_pb.js";
export * from "./gen/anomalyd/v1/results_service_pb.js";
export * from "./gen/anomalyd/v1/task_pb.js";
