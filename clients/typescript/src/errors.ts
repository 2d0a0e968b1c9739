/**
 * The one error the client throws for a failed call, with the server's google.rpc details.
 *
 * @module
 */

import { Code, ConnectError } from "@connectrpc/connect";
import { BadRequestSchema, ErrorInfoSchema } from "./gen/google/rpc/error_details_pb.js";

/**
 * The gRPC status codes by name, as gRPC and the interop drivers write them.
 */
export const StatusCode = {
  OK: "OK",
  CANCELLED: "CANCELLED",
  UNKNOWN: "UNKNOWN",
  INVALID_ARGUMENT: "INVALID_ARGUMENT",
  DEADLINE_EXCEEDED: "DEADLINE_EXCEEDED",
  NOT_FOUND: "NOT_FOUND",
  ALREADY_EXISTS: "ALREADY_EXISTS",
  PERMISSION_DENIED: "PERMISSION_DENIED",
  RESOURCE_EXHAUSTED: "RESOURCE_EXHAUSTED",
  FAILED_PRECONDITION: "FAILED_PRECONDITION",
  ABORTED: "ABORTED",
  OUT_OF_RANGE: "OUT_OF_RANGE",
  UNIMPLEMENTED: "UNIMPLEMENTED",
  INTERNAL: "INTERNAL",
  UNAVAILABLE: "UNAVAILABLE",
  DATA_LOSS: "DATA_LOSS",
  UNAUTHENTICATED: "UNAUTHENTICATED",
} as const;

/** A gRPC status code's name, such as `"NOT_FOUND"`. */
export type StatusCode = (typeof StatusCode)[keyof typeof StatusCode];

// gRPC's numbering, which Connect's Code enum shares; 0 (OK) never comes with an error.
const CODE_NAMES: readonly StatusCode[] = Object.values(StatusCode);

/**
 * The stable reasons anomalyd's errors carry in their google.rpc.ErrorInfo. Branch on these,
 * never on messages, which may be reworded.
 */
export const Reason = {
  /** A job configuration is invalid; `fieldViolations` names each bad field. */
  INVALID_JOB_CONFIG: "INVALID_JOB_CONFIG",
  /** A request field is invalid (a timestamp out of range, a timeout over a day...). */
  INVALID_REQUEST: "INVALID_REQUEST",
  /** A columnar batch is inconsistent (columns of different lengths, a bad code). */
  INVALID_COLUMN_BATCH: "INVALID_COLUMN_BATCH",
  /** An upload held too many documents that were not JSON objects. */
  TOO_MANY_PARSE_ERRORS: "TOO_MANY_PARSE_ERRORS",
  /** The job id is taken. */
  JOB_ALREADY_EXISTS: "JOB_ALREADY_EXISTS",
  /** The job id is a group of a job, or a group is a job's id: they share one namespace. */
  JOB_AND_GROUP_NAMES_MUST_BE_UNIQUE: "JOB_AND_GROUP_NAMES_MUST_BE_UNIQUE",
  /** No such job, or an expression matched nothing with allowNoMatch false. */
  JOB_NOT_FOUND: "JOB_NOT_FOUND",
  /** No such task. */
  TASK_NOT_FOUND: "TASK_NOT_FOUND",
  /** The job must be open (to take data or be flushed). */
  JOB_NOT_OPEN: "JOB_NOT_OPEN",
  /** The job is open (deleted without force). */
  JOB_OPEN: "JOB_OPEN",
  /** The job is already open. */
  JOB_ALREADY_OPEN: "JOB_ALREADY_OPEN",
  /** The job failed; close it with force. */
  JOB_FAILED: "JOB_FAILED",
  /** The job is being deleted. */
  JOB_DELETING: "JOB_DELETING",
  /** The job is being reset. */
  JOB_RESETTING: "JOB_RESETTING",
  /** Another PostData stream is active on the job. */
  DATA_STREAM_ACTIVE: "DATA_STREAM_ACTIVE",
  /** The job was force-closed while this stream was sending. */
  JOB_FORCE_CLOSED: "JOB_FORCE_CLOSED",
  /** A message or a single document is over the server's size limit. */
  CHUNK_TOO_LARGE: "CHUNK_TOO_LARGE",
  /** An upload passed the server's limit; send the rest in a new stream. */
  UPLOAD_TOO_LARGE: "UPLOAD_TOO_LARGE",
  /** The server has as many streams as it takes. */
  TOO_MANY_STREAMS: "TOO_MANY_STREAMS",
  /** The server has as many open jobs as it takes. */
  TOO_MANY_OPEN_JOBS: "TOO_MANY_OPEN_JOBS",
  /** A stream sent nothing for longer than the server waits. */
  STREAM_IDLE_TIMEOUT: "STREAM_IDLE_TIMEOUT",
  /** The server's disk refused a write. */
  STORAGE_UNAVAILABLE: "STORAGE_UNAVAILABLE",
  /** A server-side wait (open, close) ran out. */
  TIMEOUT: "TIMEOUT",
  /** The server is shutting down. */
  SERVER_DRAINING: "SERVER_DRAINING",
  /** No bucket starts at the timestamp asked for. */
  BUCKET_NOT_FOUND: "BUCKET_NOT_FOUND",
  /** No such model snapshot. */
  SNAPSHOT_NOT_FOUND: "SNAPSHOT_NOT_FOUND",
  /** The snapshot is the job's active one. */
  SNAPSHOT_ACTIVE: "SNAPSHOT_ACTIVE",
  /** A model snapshot could not be restored. */
  RESTORE_FAILED: "RESTORE_FAILED",
  /** The job's stored state is damaged. */
  JOB_DAMAGED: "JOB_DAMAGED",
  /** The server requires an API key and the call had none. */
  API_KEY_REQUIRED: "API_KEY_REQUIRED",
  /** The API key is unknown or deleted. */
  API_KEY_INVALID: "API_KEY_INVALID",
  /** The API key's role lacks the method's privilege (`metadata` names it). */
  INSUFFICIENT_PRIVILEGES: "INSUFFICIENT_PRIVILEGES",
  /** A bug in the server; its log has the details. */
  INTERNAL: "INTERNAL",
} as const;

/** A reason anomalyd is known to send, such as `"JOB_NOT_FOUND"`. */
export type Reason = (typeof Reason)[keyof typeof Reason];

/** One bad field of a google.rpc.BadRequest. */
export interface FieldViolation {
  /** The field's path, such as `analysis_config.detectors[0].function`. */
  readonly field: string;
  /** What is wrong with it. */
  readonly description: string;
}

/** What an {@link AnomalydError} is made of. */
export interface AnomalydErrorInit {
  /** The gRPC status code. */
  code: StatusCode;
  /** The ErrorInfo reason; empty when none came. */
  reason?: string;
  /** What went wrong, for people. */
  message: string;
  /** The ErrorInfo domain. */
  domain?: string;
  /** The ErrorInfo metadata. */
  metadata?: Readonly<Record<string, string>>;
  /** The BadRequest field violations. */
  fieldViolations?: readonly FieldViolation[];
  /** The error this one stands for. */
  cause?: unknown;
}

/**
 * A call failed. Branch on {@link AnomalydError.reason}, never on the message.
 *
 * @example
 * ```ts
 * try {
 *   await client.openJob("web");
 * } catch (err) {
 *   if (err instanceof AnomalydError && err.reason === Reason.JOB_NOT_FOUND) { ... }
 *   else throw err;
 * }
 * ```
 */
export class AnomalydError extends Error {
  /** The gRPC status code, such as `"NOT_FOUND"`. */
  readonly code: StatusCode;
  /**
   * The stable ErrorInfo reason, such as `"JOB_NOT_FOUND"` (see {@link Reason}); empty when
   * the failure did not come from anomalyd (the server is unreachable, a deadline passed).
   * A newer server may send a reason this client does not list.
   */
  readonly reason: Reason | "" | (string & {});
  /** The ErrorInfo domain (`"anomalyd.io"`), or empty. */
  readonly domain: string;
  /** The ErrorInfo metadata, lowerCamel keys naming every value in the message. */
  readonly metadata: Readonly<Record<string, string>>;
  /** The fields a google.rpc.BadRequest names, for invalid configurations. */
  readonly fieldViolations: readonly FieldViolation[];

  /** Makes an error; {@link AnomalydError.from} reads one from a failed call. */
  constructor(init: AnomalydErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = "AnomalydError";
    this.code = init.code;
    this.reason = init.reason ?? "";
    this.domain = init.domain ?? "";
    this.metadata = Object.freeze({ ...init.metadata });
    this.fieldViolations = Object.freeze([...(init.fieldViolations ?? [])]);
  }

  /**
   * Reads the code, message and google.rpc details (ErrorInfo, BadRequest) of a failed call.
   *
   * @param error - what a call threw: a ConnectError from the generated clients (see
   *   `Client.raw`), or anything else, which becomes UNKNOWN; an AnomalydError is returned as is.
   */
  static from(error: unknown): AnomalydError {
    if (error instanceof AnomalydError) {
      return error;
    }
    const connect = ConnectError.from(error);
    const info = connect.findDetails(ErrorInfoSchema)[0];
    const badRequest = connect.findDetails(BadRequestSchema)[0];
    return new AnomalydError({
      code: statusCodeName(connect.code),
      reason: info?.reason ?? "",
      message: connect.rawMessage,
      domain: info?.domain ?? "",
      metadata: info?.metadata ?? {},
      fieldViolations: (badRequest?.fieldViolations ?? []).map((v) => ({ field: v.field, description: v.description })),
      cause: error,
    });
  }

  /** `"NOT_FOUND JOB_NOT_FOUND: ..."`, as the Python client writes it. */
  override toString(): string {
    return `${this.name}: ${this.reason ? `${this.code} ${this.reason}` : this.code}: ${this.message}`;
  }
}

/** The name of a numeric gRPC status code (Connect's `Code`); UNKNOWN for numbers out of range. */
export function statusCodeName(code: Code | number): StatusCode {
  return CODE_NAMES[code] ?? StatusCode.UNKNOWN;
}
