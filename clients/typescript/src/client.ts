/**
 * A promise-based client for anomalyd's JobService, ResultsService and ModelSnapshotService.
 *
 * @module
 */

import { readFileSync } from "node:fs";
import type { SecureClientSessionOptions } from "node:http2";
import { type Client as ConnectClient, ConnectError, type Interceptor, createClient } from "@connectrpc/connect";
import { Http2SessionManager, createGrpcTransport } from "@connectrpc/connect-node";
import type { JsonObject, MessageInitShape } from "@bufbuild/protobuf";
import type { Duration } from "@bufbuild/protobuf/wkt";
import {
  type DurationInput,
  type InstantInput,
  durationMs,
  optionalDuration,
  optionalTimestamp,
  toDuration,
} from "./convert.js";
import { type DetectorSpec, toDetectorInit } from "./detector.js";
import { AnomalydError } from "./errors.js";
import type { ColumnBatch } from "./gen/anomalyd/v1/column_batch_pb.js";
import type { DataCounts } from "./gen/anomalyd/v1/data_counts_pb.js";
import type { Job } from "./gen/anomalyd/v1/job_pb.js";
import {
  type CloseJobResponse,
  type DeleteJobResponse,
  type FlushJobResponse,
  JobService,
  type OpenJobResponse,
  type PostDataRequestSchema,
  type ResetJobResponse,
} from "./gen/anomalyd/v1/job_service_pb.js";
import type { JobStats } from "./gen/anomalyd/v1/job_stats_pb.js";
import type { ModelSnapshot } from "./gen/anomalyd/v1/model_snapshot_pb.js";
import { type GetModelSnapshotsResponse, ModelSnapshotService } from "./gen/anomalyd/v1/model_snapshot_service_pb.js";
import {
  type GetBucketsResponse,
  type GetInfluencersResponse,
  type GetOverallBucketsResponse,
  type GetRecordsResponse,
  ResultsService,
} from "./gen/anomalyd/v1/results_service_pb.js";
import type { Task } from "./gen/anomalyd/v1/task_pb.js";
import {
  type Column,
  DEFAULT_CHUNK_BYTES,
  type DataSource,
  type RecordSource,
  type TimeColumn,
  columnBatch,
  ndjsonChunks,
  recordChunks,
} from "./upload.js";

/** The server a client connects to when given no target. */
export const DEFAULT_TARGET = "127.0.0.1:50051";

type PostDataInit = MessageInitShape<typeof PostDataRequestSchema>;

// Added to a server-side wait (open or close timeout) so that the server's own
// DEADLINE_EXCEEDED, with its reason, arrives before the client gives up on the call.
const DEADLINE_MARGIN_MS = 10_000;

/** PEM contents, as text or bytes. */
export type Pem = string | Uint8Array;

/**
 * TLS settings. Each PEM can be given as its contents or as a file path (`...File`), read
 * when the client is made. With neither `ca` nor `caFile`, Node's bundled CAs are trusted.
 */
export interface TlsOptions {
  /** CA certificates to verify the server with. */
  ca?: Pem;
  /** A file of CA certificates to verify the server with. */
  caFile?: string;
  /** A client certificate, for a server that requires one (mutual TLS). */
  cert?: Pem;
  /** A file holding the client certificate. */
  certFile?: string;
  /** The client certificate's private key (unencrypted PEM). */
  key?: Pem;
  /** A file holding the client certificate's private key. */
  keyFile?: string;
  /** The name to verify the server's certificate against, when it differs from the target's host. */
  serverName?: string;
}

/** How a {@link Client} connects. */
export interface ClientOptions {
  /**
   * Connect with TLS: `true` trusts Node's bundled CAs; an object gives CAs and a client
   * certificate. A target starting with `https://` implies `true`.
   */
  tls?: boolean | TlsOptions;
  /**
   * The credential that `anomalyd keys create` printed, sent with every call as
   * `authorization: ApiKey <credential>`.
   */
  apiKey?: string;
  /**
   * The deadline of each call other than uploads, in milliseconds (stretched past an open or
   * close timeout); 0 waits forever. Defaults to 60 s. Uploads have no deadline.
   */
  timeoutMs?: number;
  /** More interceptors, run after the one that adds the API key. */
  interceptors?: Interceptor[];
}

/** Options every call takes. */
export interface CallOptions {
  /** This call's deadline in milliseconds, instead of the client's; 0 waits forever. */
  timeoutMs?: number;
  /** Cancels the call. */
  signal?: AbortSignal;
}

/** What {@link Client.putJob} creates; unset fields take the server's defaults. */
export interface PutJobOptions extends CallOptions {
  /** At least one detector: shorthand (`"mean(responsetime) by airline"`) or fields. */
  detectors: readonly DetectorSpec[];
  /** The bucket length, a whole number of seconds. Defaults to `"5m"`. */
  bucketSpan?: DurationInput;
  /** Fields scored as influencers. */
  influencers?: readonly string[];
  /** Free text. */
  description?: string;
  /** Groups the job belongs to. */
  groups?: readonly string[];
  /** How long to wait for late data. */
  latency?: DurationInput;
  /** The field holding a pre-aggregated document's count. */
  summaryCountFieldName?: string;
  /** The field holding each document's time. Defaults to `"time"`. */
  timeField?: string;
  /** `"epoch"` (seconds, the default), `"epoch_ms"`, or a Java DateTimeFormatter pattern. */
  timeFormat?: string;
  /** Such as `"512mb"` or `"2gb"`; a number is MB. */
  modelMemoryLimit?: string | number;
  /** Days of results to keep. */
  resultsRetentionDays?: number;
  /** Days of model snapshots to keep. */
  modelSnapshotRetentionDays?: number;
  /** Days after which one snapshot a day is kept. */
  dailyModelSnapshotRetentionAfterDays?: number;
  /** Days within which stored scores are renormalised. */
  renormalizationWindowDays?: number;
  /** How often an open job persists its model. */
  backgroundPersistInterval?: DurationInput;
}

/** Options of calls that take a job expression. */
export interface MatchOptions extends CallOptions {
  /** Whether an expression that matches nothing, or only part, is fine. The server defaults to true. */
  allowNoMatch?: boolean;
}

/** Options of {@link Client.openJob}. */
export interface OpenJobOptions extends CallOptions {
  /** How long the server waits for the job to open (default 30 minutes). */
  timeout?: DurationInput;
}

/** How far an upload has got. */
export interface Progress {
  /** Data bytes handed to the stream so far. */
  bytesSent: number;
  /** Newline-terminated documents sent; exact for NDJSON and records. */
  recordsSent: number;
  /** Milliseconds since the upload started. */
  elapsedMs: number;
}

/** Options of the uploads. */
export interface PostOptions {
  /** Start of a range of buckets to reset so that their data can be sent again. */
  resetStart?: InstantInput;
  /** End of that range; the server defaults it to resetStart plus one second. */
  resetEnd?: InstantInput;
  /** Cancels the upload; data already sent stays accepted. */
  signal?: AbortSignal;
}

/** Options of {@link Client.postData} and {@link Client.postRecords}. */
export interface PostDataOptions extends PostOptions {
  /** The data bytes per message (default 1 MiB); messages end at newlines. */
  chunkBytes?: number;
  /** Called after each message with how far the upload has got. */
  onProgress?: (progress: Progress) => void;
}

/** Options of {@link Client.postColumns}. */
export interface PostColumnsOptions extends PostOptions {
  /** The time column of batches given as columns. Defaults to `"time"`. */
  timeField?: string;
}

/** Options of {@link Client.flushJob}. */
export interface FlushJobOptions extends CallOptions {
  /** Compute interim results for the open bucket(s). */
  calcInterim?: boolean;
  /** With calcInterim, the start of the interim range. */
  start?: InstantInput;
  /** With calcInterim and start, its end (default: start plus one second). */
  end?: InstantInput;
  /** Finalise every bucket whose end plus the job's latency is at or before this time. */
  advanceTime?: InstantInput;
  /** Skip to this time without results for the gap. */
  skipTime?: InstantInput;
}

/** Options of {@link Client.closeJob}. */
export interface CloseJobOptions extends MatchOptions {
  /** Close without finishing buckets or persisting, aborting any upload. */
  force?: boolean;
  /** How long the server waits for the close (default 30 minutes). */
  timeout?: DurationInput;
}

/** Options of {@link Client.deleteJob}. */
export interface DeleteJobOptions extends CallOptions {
  /** Delete an open job, force-closing it first. */
  force?: boolean;
  /** Wait until the deletion completes (default true); false returns a task id. */
  waitForCompletion?: boolean;
  /** Also delete annotations users added to the job. */
  deleteUserAnnotations?: boolean;
}

/**
 * What {@link Client.updateJob} changes; a setting left out stays as it is. A job's analysis
 * and data description are fixed when it is created.
 */
export interface JobUpdate {
  /** Free text. */
  description?: string;
  /** The new groups (empty removes every group). */
  groups?: readonly string[];
  /** Such as `"512mb"`; a number is MB. Only while the job is closed, never below its model's size. */
  modelMemoryLimit?: string | number;
  /** How often an open job persists its model. */
  backgroundPersistInterval?: DurationInput;
  /** Days of results to keep. */
  resultsRetentionDays?: number;
  /** Days of model snapshots to keep. */
  modelSnapshotRetentionDays?: number;
  /** Days after which one snapshot a day is kept. */
  dailyModelSnapshotRetentionAfterDays?: number;
  /** Days within which stored scores are renormalised. */
  renormalizationWindowDays?: number;
  /** The user's own metadata, replacing what the job had. */
  customSettings?: JsonObject;
  /** Stored and returned, as in Elasticsearch. */
  allowLazyOpen?: boolean;
  /** New detector descriptions by detector index (`""` for the default one). */
  detectorDescriptions?: Readonly<Record<number, string>>;
}

/** The UpdateJob mask path of each {@link JobUpdate} setting. */
const UPDATE_PATHS: Readonly<Record<keyof JobUpdate, string>> = {
  description: "description",
  groups: "groups",
  modelMemoryLimit: "analysis_limits",
  backgroundPersistInterval: "background_persist_interval",
  resultsRetentionDays: "results_retention_days",
  modelSnapshotRetentionDays: "model_snapshot_retention_days",
  dailyModelSnapshotRetentionAfterDays: "daily_model_snapshot_retention_after_days",
  renormalizationWindowDays: "renormalization_window_days",
  customSettings: "custom_settings",
  allowLazyOpen: "allow_lazy_open",
  detectorDescriptions: "analysis_config.detectors",
};

/** Options of {@link Client.resetJob}. */
export interface ResetJobOptions extends CallOptions {
  /** Wait until the reset completes (default true); false returns a task id. */
  waitForCompletion?: boolean;
}

/** The filters and page that bucket, record and influencer queries share. */
export interface ResultQuery extends CallOptions {
  /** Results of buckets starting at or after this time. */
  start?: InstantInput;
  /** Results of buckets starting before this time. */
  end?: InstantInput;
  /** Leave out interim results. */
  excludeInterim?: boolean;
  /** The field to sort by; each query has its own default. */
  sort?: string;
  /** Sort descending; each query has its own default. */
  desc?: boolean;
  /** Results to skip. */
  from?: number;
  /** Results to return (the server's default is 100); 0 returns none, only the count. */
  size?: number;
}

/** Options of {@link Client.getBuckets}. */
export interface GetBucketsOptions extends ResultQuery {
  /** Only the bucket starting at this time (not with start, end, from, size or anomalyScore). */
  timestamp?: InstantInput;
  /** Only buckets scoring at least this. */
  anomalyScore?: number;
  /** Include each bucket's anomaly records. */
  expand?: boolean;
}

/** Options of {@link Client.getRecords}. */
export interface GetRecordsOptions extends ResultQuery {
  /** Only records scoring at least this. */
  recordScore?: number;
}

/** Options of {@link Client.getInfluencers}. */
export interface GetInfluencersOptions extends ResultQuery {
  /** Only influencers scoring at least this. */
  influencerScore?: number;
}

/** Options of {@link Client.getOverallBuckets}. */
export interface GetOverallBucketsOptions extends MatchOptions {
  /** How many of the jobs' highest bucket scores to average, from 1 (default 1). */
  topN?: number;
  /** The overall bucket length; defaults to the jobs' longest span. */
  bucketSpan?: DurationInput;
  /** Only overall buckets scoring at least this. */
  overallScore?: number;
  /** Leave out interim buckets. */
  excludeInterim?: boolean;
  /** Overall buckets starting at or after this time. */
  start?: InstantInput;
  /** Overall buckets starting before this time. */
  end?: InstantInput;
}

/** Options of {@link Client.getModelSnapshots}. */
export interface GetModelSnapshotsOptions extends CallOptions {
  /** Snapshot ids, comma-separated, each an id or a wildcard expression. */
  snapshotId?: string;
  /** Snapshots taken at or after this time. */
  start?: InstantInput;
  /** Snapshots taken before this time. */
  end?: InstantInput;
  /** The field to sort by. */
  sort?: string;
  /** Sort descending (the default: newest first); false sorts ascending. */
  desc?: boolean;
  /** Snapshots to skip. */
  from?: number;
  /** Snapshots to return (default 100); 0 returns none, only the count. */
  size?: number;
}

/** The generated Connect clients a {@link Client} wraps, for calls it does not. */
export interface RawClients {
  /** anomalyd.v1.JobService. */
  readonly jobs: ConnectClient<typeof JobService>;
  /** anomalyd.v1.ResultsService. */
  readonly results: ConnectClient<typeof ResultsService>;
  /** anomalyd.v1.ModelSnapshotService. */
  readonly snapshots: ConnectClient<typeof ModelSnapshotService>;
}

/**
 * A connection to an anomalyd server. Every method returns the contract's messages (typed by
 * the generated code: int64 fields are `bigint`, times are Timestamp messages, see
 * `timestampDate`) and throws {@link AnomalydError} when the call fails.
 *
 * @example
 * ```ts
 * const client = new Client("127.0.0.1:50051", { apiKey: process.env.ANOMALYD_API_KEY });
 * await client.putJob("web", { detectors: ["mean(responsetime) by airline"], bucketSpan: "15m" });
 * await client.openJob("web");
 * const counts = await client.postData("web", fs.createReadStream("data.ndjson"));
 * const { records } = await client.getRecords("web", { size: 10 });
 * await client.closeJob("web");
 * client.close();
 * ```
 */
export class Client {
  /** The server, `host:port` or a URL. */
  readonly target: string;
  /** The generated clients this one wraps; they throw ConnectError (see {@link AnomalydError.from}). */
  readonly raw: RawClients;
  private readonly timeoutMs: number;
  private readonly session: Http2SessionManager;

  /**
   * Makes a client; it connects at the first call.
   *
   * @param target - `host:port` (`[::1]:50051` for IPv6), or an `http://` or `https://` URL.
   * @param options - TLS, API key and deadline.
   * @throws Error when a TLS file cannot be read, or a certificate comes without its key.
   */
  constructor(target: string = DEFAULT_TARGET, options: ClientOptions = {}) {
    this.target = target;
    this.timeoutMs = options.timeoutMs ?? 60_000;
    const tls = options.tls === true ? {} : options.tls === false ? undefined : options.tls;
    const secure = tls !== undefined || target.startsWith("https://");
    const baseUrl = /^https?:\/\//.test(target) ? target : `${secure ? "https" : "http"}://${target}`;
    this.session = new Http2SessionManager(baseUrl, {}, secure ? sessionOptions(tls ?? {}) : {});
    const interceptors: Interceptor[] = [];
    if (options.apiKey !== undefined) {
      // Per-call metadata, not TLS-only call credentials: a key also works against a
      // plaintext server on localhost, as in the Python client.
      const authorization = `ApiKey ${options.apiKey}`;
      interceptors.push((next) => (request) => {
        request.header.set("authorization", authorization);
        return next(request);
      });
    }
    interceptors.push(...(options.interceptors ?? []));
    const transport = createGrpcTransport({ baseUrl, sessionManager: this.session, interceptors });
    this.raw = {
      jobs: createClient(JobService, transport),
      results: createClient(ResultsService, transport),
      snapshots: createClient(ModelSnapshotService, transport),
    };
  }

  /** Closes the connection, failing calls still running. */
  close(): void {
    this.session.abort();
  }

  /**
   * Creates a job, closed.
   *
   * @returns the job as stored, with defaults filled in.
   * @throws AnomalydError INVALID_JOB_CONFIG (see `fieldViolations`) or JOB_ALREADY_EXISTS.
   * @throws SyntaxError when a detector's shorthand cannot be read; RangeError for a bad span.
   */
  async putJob(jobId: string, options: PutJobOptions): Promise<Job> {
    const job = {
      jobId,
      description: options.description ?? "",
      groups: [...(options.groups ?? [])],
      analysisConfig: {
        bucketSpan: toDuration(options.bucketSpan ?? "5m"),
        detectors: options.detectors.map(toDetectorInit),
        influencers: [...(options.influencers ?? [])],
        latency: optionalDuration(options.latency),
        summaryCountFieldName: options.summaryCountFieldName ?? "",
      },
      dataDescription: { timeField: options.timeField ?? "time", timeFormat: options.timeFormat ?? "epoch" },
      resultsRetentionDays: optionalBigInt(options.resultsRetentionDays),
      modelSnapshotRetentionDays: optionalBigInt(options.modelSnapshotRetentionDays),
      dailyModelSnapshotRetentionAfterDays: optionalBigInt(options.dailyModelSnapshotRetentionAfterDays),
      renormalizationWindowDays: optionalBigInt(options.renormalizationWindowDays),
      backgroundPersistInterval: optionalDuration(options.backgroundPersistInterval),
      analysisLimits:
        options.modelMemoryLimit === undefined ? undefined : { modelMemoryLimit: String(options.modelMemoryLimit) },
    };
    const response = await this.call(options, (o) => this.raw.jobs.putJob({ job }, o));
    return required(response.job, "PutJobResponse.job");
  }

  /**
   * The configurations of the jobs matching an id, group, comma list or wildcard (empty or
   * `"_all"`: every job), ordered by id.
   *
   * @throws AnomalydError JOB_NOT_FOUND when allowNoMatch is false and a part matches nothing.
   */
  async getJobs(expression = "", options: MatchOptions = {}): Promise<Job[]> {
    const request = { jobId: expression, allowNoMatch: options.allowNoMatch };
    return (await this.call(options, (o) => this.raw.jobs.getJobs(request, o))).jobs;
  }

  /**
   * State, lifetime data counts and model size of the jobs matching an expression.
   *
   * @throws AnomalydError JOB_NOT_FOUND as for {@link Client.getJobs}.
   */
  async getJobStats(expression = "", options: MatchOptions = {}): Promise<JobStats[]> {
    const request = { jobId: expression, allowNoMatch: options.allowNoMatch };
    return (await this.call(options, (o) => this.raw.jobs.getJobStats(request, o))).jobs;
  }

  /**
   * Opens a job so that it takes data.
   *
   * @throws AnomalydError JOB_NOT_FOUND, JOB_ALREADY_OPEN, JOB_FAILED, JOB_DELETING, TIMEOUT.
   */
  async openJob(jobId: string, options: OpenJobOptions = {}): Promise<OpenJobResponse> {
    const timeout = optionalDuration(options.timeout);
    return this.call(options, (o) => this.raw.jobs.openJob({ jobId, timeout }, o), timeout);
  }

  /**
   * Streams JSON documents (NDJSON, say) into an open job, in messages of about 1 MiB cut at
   * newlines.
   *
   * @example
   * ```ts
   * const counts = await client.postData("web", fs.createReadStream("data.ndjson"));
   * console.log(counts.processedRecordCount);
   * ```
   *
   * @param source - a Node Readable, an async or sync iterable of byte chunks or strings, or
   *   bytes.
   * @returns the DataCounts of this upload.
   * @throws the source's own error when reading it fails; what was sent before stays accepted.
   * @throws AnomalydError JOB_NOT_FOUND, JOB_NOT_OPEN, DATA_STREAM_ACTIVE, CHUNK_TOO_LARGE,
   *   UPLOAD_TOO_LARGE (its metadata's `processedRecordCount` says how many records were kept)...
   */
  async postData(jobId: string, source: DataSource, options: PostDataOptions = {}): Promise<DataCounts> {
    const chunks = ndjsonChunks(source, options.chunkBytes ?? DEFAULT_CHUNK_BYTES);
    return this.post(jobId, dataMessages(tracked(chunks, options.onProgress)), options);
  }

  /**
   * Streams chunks of JSON documents into an open job, one message per chunk, as given: for
   * data already cut into messages (by {@link ndjsonChunks}, say). A chunk may end inside a
   * document; the server reassembles it.
   *
   * @param chunks - the data of each message, each under the server's message limit (16 MiB).
   * @returns the DataCounts of this upload.
   * @throws AnomalydError as {@link Client.postData}.
   */
  async postChunks(
    jobId: string,
    chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
    options: PostDataOptions = {},
  ): Promise<DataCounts> {
    return this.post(jobId, dataMessages(tracked(chunks, options.onProgress)), options);
  }

  /**
   * Streams records into an open job as NDJSON, in messages of about 1 MiB of whole lines.
   *
   * @param records - JSON-encodable objects, each encoded with `JSON.stringify`.
   * @returns the DataCounts of this upload.
   * @throws TypeError when a record cannot be encoded; what was sent before stays accepted.
   * @throws AnomalydError as {@link Client.postData}.
   */
  async postRecords(jobId: string, records: RecordSource, options: PostDataOptions = {}): Promise<DataCounts> {
    const chunks = recordChunks(records, options.chunkBytes ?? DEFAULT_CHUNK_BYTES);
    return this.post(jobId, dataMessages(tracked(chunks, options.onProgress)), options);
  }

  /**
   * Streams columnar batches into an open job, one message per batch.
   *
   * @param batches - ColumnBatch messages, or columns for {@link columnBatch}.
   * @returns the DataCounts of this upload.
   * @throws AnomalydError as {@link Client.postData}, and INVALID_COLUMN_BATCH.
   */
  async postColumns(
    jobId: string,
    batches:
      | AsyncIterable<ColumnBatch | Readonly<Record<string, Column | TimeColumn>>>
      | Iterable<ColumnBatch | Readonly<Record<string, Column | TimeColumn>>>,
    options: PostColumnsOptions = {},
  ): Promise<DataCounts> {
    const timeField = options.timeField ?? "time";
    async function* messages(): AsyncGenerator<PostDataInit> {
      for await (const batch of batches) {
        yield { columns: isColumnBatch(batch) ? batch : columnBatch(batch, { timeField }) };
      }
    }
    return this.post(jobId, messages(), options);
  }

  /**
   * Processes buffered data, and optionally finalises buckets or computes interim results.
   *
   * @throws AnomalydError JOB_NOT_FOUND, JOB_NOT_OPEN, or INVALID_REQUEST for a bad range.
   */
  async flushJob(jobId: string, options: FlushJobOptions = {}): Promise<FlushJobResponse> {
    const request = {
      jobId,
      calcInterim: options.calcInterim ?? false,
      start: optionalTimestamp(options.start),
      end: optionalTimestamp(options.end),
      advanceTime: optionalTimestamp(options.advanceTime),
      skipTime: optionalTimestamp(options.skipTime),
    };
    return this.call(options, (o) => this.raw.jobs.flushJob(request, o));
  }

  /**
   * Closes the jobs matching an expression (an id, group, comma list, wildcard, `"_all"`).
   *
   * @throws AnomalydError JOB_NOT_FOUND, JOB_FAILED without force, TIMEOUT.
   */
  async closeJob(expression: string, options: CloseJobOptions = {}): Promise<CloseJobResponse> {
    const timeout = optionalDuration(options.timeout);
    const request = { jobId: expression, allowNoMatch: options.allowNoMatch, force: options.force ?? false, timeout };
    return this.call(options, (o) => this.raw.jobs.closeJob(request, o), timeout);
  }

  /**
   * Deletes a job with its state and results.
   *
   * @returns `acknowledged` when it waited, else the `taskId` for {@link Client.getTask}.
   * @throws AnomalydError JOB_NOT_FOUND, or JOB_OPEN when the job is open and force is not set.
   */
  async deleteJob(jobId: string, options: DeleteJobOptions = {}): Promise<DeleteJobResponse> {
    const request = {
      jobId,
      force: options.force ?? false,
      waitForCompletion: options.waitForCompletion,
      deleteUserAnnotations: options.deleteUserAnnotations ?? false,
    };
    return this.call(options, (o) => this.raw.jobs.deleteJob(request, o));
  }

  /**
   * Changes a job's updatable settings (UpdateJob with a field mask of those given).
   *
   * @returns The job as stored after the update.
   * @throws AnomalydError JOB_NOT_FOUND, INVALID_JOB_CONFIG, JOB_OPEN (modelMemoryLimit of an
   *   open job), JOB_AND_GROUP_NAMES_MUST_BE_UNIQUE, JOB_DELETING, JOB_RESETTING.
   */
  async updateJob(jobId: string, update: JobUpdate, options: CallOptions = {}): Promise<Job> {
    const descriptions = Object.entries(update.detectorDescriptions ?? {});
    const job = {
      jobId,
      description: update.description ?? "",
      groups: [...(update.groups ?? [])],
      analysisLimits:
        update.modelMemoryLimit === undefined ? undefined : { modelMemoryLimit: String(update.modelMemoryLimit) },
      backgroundPersistInterval: optionalDuration(update.backgroundPersistInterval),
      resultsRetentionDays: optionalBigInt(update.resultsRetentionDays),
      modelSnapshotRetentionDays: optionalBigInt(update.modelSnapshotRetentionDays),
      dailyModelSnapshotRetentionAfterDays: optionalBigInt(update.dailyModelSnapshotRetentionAfterDays),
      renormalizationWindowDays: optionalBigInt(update.renormalizationWindowDays),
      customSettings: update.customSettings,
      allowLazyOpen: update.allowLazyOpen ?? false,
      analysisConfig: {
        detectors: descriptions.map(([index, text]) => ({ detectorIndex: Number(index), detectorDescription: text })),
      },
    };
    const paths = Object.entries(UPDATE_PATHS)
      .filter(([key]) => update[key as keyof JobUpdate] !== undefined)
      .map(([, path]) => path);
    const request = { job, updateMask: { paths } };
    const response = await this.call(options, (o) => this.raw.jobs.updateJob(request, o));
    return required(response.job, "UpdateJobResponse.job");
  }

  /**
   * Resets a closed job to how it was created: its results, model, snapshots and counts go,
   * its configuration stays.
   *
   * @returns `acknowledged` when it waited, else the `taskId` for {@link Client.getTask}.
   * @throws AnomalydError JOB_NOT_FOUND, JOB_OPEN when the job is not closed, JOB_DELETING.
   */
  async resetJob(jobId: string, options: ResetJobOptions = {}): Promise<ResetJobResponse> {
    const request = { jobId, waitForCompletion: options.waitForCompletion };
    return this.call(options, (o) => this.raw.jobs.resetJob(request, o));
  }

  /**
   * A task started by a call that did not wait for completion.
   *
   * @throws AnomalydError TASK_NOT_FOUND.
   */
  async getTask(taskId: string, options: CallOptions = {}): Promise<Task> {
    const response = await this.call(options, (o) => this.raw.jobs.getTask({ taskId }, o));
    return required(response.task, "GetTaskResponse.task");
  }

  /**
   * A page of a job's buckets, oldest first unless sorted otherwise (sort: `timestamp`,
   * `anomaly_score`, `event_count` or `initial_anomaly_score`).
   *
   * @returns the buckets and `count`, the number matching over all pages.
   * @throws AnomalydError JOB_NOT_FOUND, or INVALID_REQUEST for a bad sort field or page.
   */
  async getBuckets(jobId: string, options: GetBucketsOptions = {}): Promise<GetBucketsResponse> {
    const request = {
      jobId,
      timestamp: optionalTimestamp(options.timestamp),
      anomalyScore: options.anomalyScore ?? 0,
      expand: options.expand ?? false,
      ...resultQuery(options),
    };
    return this.call(options, (o) => this.raw.results.getBuckets(request, o));
  }

  /**
   * A page of a job's anomaly records, highest `record_score` first unless sorted otherwise
   * (sort: `record_score`, `timestamp`, `probability` or `initial_record_score`).
   *
   * @returns the records and `count`, the number matching over all pages.
   * @throws AnomalydError as {@link Client.getBuckets}.
   */
  async getRecords(jobId: string, options: GetRecordsOptions = {}): Promise<GetRecordsResponse> {
    const request = { jobId, recordScore: options.recordScore ?? 0, ...resultQuery(options) };
    return this.call(options, (o) => this.raw.results.getRecords(request, o));
  }

  /**
   * A page of a job's influencers, highest `influencer_score` first unless sorted otherwise.
   *
   * @returns the influencers and `count`, the number matching over all pages.
   * @throws AnomalydError as {@link Client.getBuckets}.
   */
  async getInfluencers(jobId: string, options: GetInfluencersOptions = {}): Promise<GetInfluencersResponse> {
    const request = { jobId, influencerScore: options.influencerScore ?? 0, ...resultQuery(options) };
    return this.call(options, (o) => this.raw.results.getInfluencers(request, o));
  }

  /**
   * Bucket scores combined over the jobs matching an expression, oldest first.
   *
   * @throws AnomalydError JOB_NOT_FOUND, or INVALID_REQUEST for a span below a job's or a topN below 1.
   */
  async getOverallBuckets(expression = "", options: GetOverallBucketsOptions = {}): Promise<GetOverallBucketsResponse> {
    const request = {
      jobId: expression,
      topN: options.topN ?? 1,
      topNJobs: options.topN,
      bucketSpan: optionalDuration(options.bucketSpan),
      overallScore: options.overallScore ?? 0,
      excludeInterim: options.excludeInterim ?? false,
      start: optionalTimestamp(options.start),
      end: optionalTimestamp(options.end),
      allowNoMatch: options.allowNoMatch,
    };
    return this.call(options, (o) => this.raw.results.getOverallBuckets(request, o));
  }

  /**
   * Persists the model of an open job now.
   *
   * @param options - `description` and `retain` (keep it beyond the retention window).
   * @throws AnomalydError JOB_NOT_FOUND, JOB_NOT_OPEN.
   */
  async createModelSnapshot(
    jobId: string,
    options: CallOptions & { description?: string; retain?: boolean } = {},
  ): Promise<ModelSnapshot> {
    const request = { jobId, description: options.description ?? "", retain: options.retain ?? false };
    const response = await this.call(options, (o) => this.raw.snapshots.createModelSnapshot(request, o));
    return required(response.modelSnapshot, "CreateModelSnapshotResponse.model_snapshot");
  }

  /**
   * A page of a job's model snapshots.
   *
   * @throws AnomalydError JOB_NOT_FOUND, SNAPSHOT_NOT_FOUND.
   */
  async getModelSnapshots(jobId: string, options: GetModelSnapshotsOptions = {}): Promise<GetModelSnapshotsResponse> {
    const request = {
      jobId,
      snapshotId: options.snapshotId ?? "",
      start: optionalTimestamp(options.start),
      end: optionalTimestamp(options.end),
      sort: options.sort ?? "",
      descOrder: options.desc,
      page: { from: options.from ?? 0, size: options.size ?? 0, countOnly: options.size === 0 },
    };
    return this.call(options, (o) => this.raw.snapshots.getModelSnapshots(request, o));
  }

  /**
   * Changes a snapshot's description or retention.
   *
   * @throws AnomalydError JOB_NOT_FOUND, SNAPSHOT_NOT_FOUND.
   */
  async updateModelSnapshot(
    jobId: string,
    snapshotId: string,
    options: CallOptions & { description?: string; retain?: boolean } = {},
  ): Promise<ModelSnapshot> {
    const request = { jobId, snapshotId, description: options.description, retain: options.retain };
    const response = await this.call(options, (o) => this.raw.snapshots.updateModelSnapshot(request, o));
    return required(response.modelSnapshot, "UpdateModelSnapshotResponse.model_snapshot");
  }

  /**
   * Deletes a snapshot other than the active one.
   *
   * @throws AnomalydError JOB_NOT_FOUND, SNAPSHOT_NOT_FOUND, SNAPSHOT_ACTIVE.
   */
  async deleteModelSnapshot(jobId: string, snapshotId: string, options: CallOptions = {}): Promise<void> {
    await this.call(options, (o) => this.raw.snapshots.deleteModelSnapshot({ jobId, snapshotId }, o));
  }

  /**
   * Makes a snapshot the one a closed job restores on open.
   *
   * @param options - `deleteInterveningResults`: delete results after the snapshot's time.
   * @throws AnomalydError JOB_NOT_FOUND, SNAPSHOT_NOT_FOUND, JOB_OPEN.
   */
  async revertModelSnapshot(
    jobId: string,
    snapshotId: string,
    options: CallOptions & { deleteInterveningResults?: boolean } = {},
  ): Promise<ModelSnapshot> {
    const request = { jobId, snapshotId, deleteInterveningResults: options.deleteInterveningResults ?? false };
    const response = await this.call(options, (o) => this.raw.snapshots.revertModelSnapshot(request, o));
    return required(response.model, "RevertModelSnapshotResponse.model");
  }

  /** Runs a unary call with this client's deadline (stretched past a server-side wait). */
  private async call<T>(
    options: CallOptions,
    invoke: (o: { timeoutMs?: number; signal?: AbortSignal }) => Promise<T>,
    wait?: Duration,
  ): Promise<T> {
    let timeoutMs = options.timeoutMs ?? this.timeoutMs;
    if (timeoutMs > 0 && wait !== undefined) {
      timeoutMs = Math.max(timeoutMs, durationMs(wait) + DEADLINE_MARGIN_MS);
    }
    try {
      return await invoke({ timeoutMs: timeoutMs > 0 ? timeoutMs : undefined, signal: options.signal });
    } catch (error) {
      throw AnomalydError.from(error);
    }
  }

  private async post(
    jobId: string,
    messages: AsyncGenerator<PostDataInit>,
    options: PostOptions,
  ): Promise<DataCounts> {
    // Taking the first message here throws a bad source (a missing file, a record that is not
    // JSON-encodable) before the call starts.
    const first = await messages.next();
    const head = {
      ...(first.done === true ? {} : first.value),
      jobId,
      resetStart: optionalTimestamp(options.resetStart),
      resetEnd: optionalTimestamp(options.resetEnd),
    };
    const failures: unknown[] = [];
    async function* requests(): AsyncGenerator<PostDataInit> {
      yield head;
      // A failing source would otherwise cancel the call, and the caller would see a bare
      // CANCELLED; instead end the stream and throw the source's own error below. Data sent
      // so far stays accepted, as it would after a cancel.
      try {
        yield* messages;
      } catch (error) {
        // A server that ends the call early (DATA_STREAM_ACTIVE, say) can have its error
        // thrown into this stream while a message is on its way: that is the call's failure,
        // reported from the call below, not the source's.
        if (!(error instanceof ConnectError)) {
          failures.push(error);
        }
      }
    }
    let response;
    try {
      response = await this.raw.jobs.postData(requests(), { signal: options.signal });
    } catch (error) {
      throw failures.length > 0 ? failures[0] : AnomalydError.from(error);
    } finally {
      // The call may end early (the server refused the stream): let the source go.
      await messages.return(undefined);
    }
    if (failures.length > 0) {
      throw failures[0];
    }
    return required(response.dataCounts, "PostDataResponse.data_counts");
  }
}

async function* dataMessages(chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): AsyncGenerator<PostDataInit> {
  for await (const data of chunks) {
    yield { data };
  }
}

async function* tracked(
  chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  report: ((progress: Progress) => void) | undefined,
): AsyncGenerator<Uint8Array> {
  if (report === undefined) {
    yield* chunks;
    return;
  }
  const started = performance.now();
  let bytesSent = 0;
  let recordsSent = 0;
  for await (const chunk of chunks) {
    yield chunk;
    bytesSent += chunk.length;
    for (let i = chunk.indexOf(0x0a); i >= 0; i = chunk.indexOf(0x0a, i + 1)) {
      recordsSent += 1;
    }
    report({ bytesSent, recordsSent, elapsedMs: performance.now() - started });
  }
}

function resultQuery(options: ResultQuery) {
  return {
    start: optionalTimestamp(options.start),
    end: optionalTimestamp(options.end),
    excludeInterim: options.excludeInterim ?? false,
    sort: options.sort ?? "",
    desc: options.desc,
    page: { from: options.from ?? 0, size: options.size ?? 0, countOnly: options.size === 0 },
  };
}

function sessionOptions(tls: TlsOptions): SecureClientSessionOptions {
  const read = (pem: Pem | undefined, file: string | undefined, what: string): Pem | undefined => {
    if (pem !== undefined && file !== undefined) {
      throw new Error(`give the ${what} or its file, not both`);
    }
    return file === undefined ? pem : readFileSync(file);
  };
  const ca = read(tls.ca, tls.caFile, "CA");
  const cert = read(tls.cert, tls.certFile, "client certificate");
  const key = read(tls.key, tls.keyFile, "client key");
  if ((cert === undefined) !== (key === undefined)) {
    throw new Error("a client certificate needs its key, and a key its certificate");
  }
  const options: SecureClientSessionOptions = {};
  if (ca !== undefined) options.ca = toNodePem(ca);
  if (cert !== undefined) options.cert = toNodePem(cert);
  if (key !== undefined) options.key = toNodePem(key);
  if (tls.serverName !== undefined) options.servername = tls.serverName;
  return options;
}

function toNodePem(pem: Pem): string | Buffer {
  return typeof pem === "string" || Buffer.isBuffer(pem) ? pem : Buffer.from(pem);
}

function optionalBigInt(value: number | undefined): bigint | undefined {
  return value === undefined ? undefined : BigInt(value);
}

function isColumnBatch(value: object): value is ColumnBatch {
  return (value as { $typeName?: unknown }).$typeName === "anomalyd.v1.ColumnBatch";
}

function required<T>(value: T | undefined, field: string): T {
  if (value === undefined) {
    throw new AnomalydError({ code: "INTERNAL", message: `the server's response lacks ${field}` });
  }
  return value;
}
