package io.anomalyd.client;

import java.util.HashMap;
import java.util.Map;

/**
 * The stable {@code google.rpc.ErrorInfo} reason of a failed call: branch on it, never on the
 * message, which may be reworded.
 *
 * <p>{@link #UNKNOWN} stands for a reason this client does not know (a newer server's) and for
 * a failure that carries no reason at all (the server is unreachable, a client-side deadline
 * passed); {@link AnomalydException#reasonName()} then has the reason as sent, or "".
 */
public enum ErrorReason {
  /** The job configuration is invalid; {@link AnomalydException#fieldViolations()} names each field. */
  INVALID_JOB_CONFIG,
  /** A request field is invalid (a timestamp out of range, a bad page, a bad time range). */
  INVALID_REQUEST,
  /** A columnar batch is inconsistent (columns of different lengths, a bad dictionary code). */
  INVALID_COLUMN_BATCH,
  /** An upload held too many documents that were not JSON objects; what came before is kept. */
  TOO_MANY_PARSE_ERRORS,
  /** The job id is taken. */
  JOB_ALREADY_EXISTS,
  /** The job id is a group of a job, or a group is a job's id: they share one namespace. */
  JOB_AND_GROUP_NAMES_MUST_BE_UNIQUE,
  /** No job matches the id or expression. */
  JOB_NOT_FOUND,
  /** No task has the id. */
  TASK_NOT_FOUND,
  /** The job is not open: data and flushes need an open job. */
  JOB_NOT_OPEN,
  /** The job is open, and the request (a delete without force) needs it closed. */
  JOB_OPEN,
  /** The job is already open. */
  JOB_ALREADY_OPEN,
  /** The job has failed; close it with force. */
  JOB_FAILED,
  /** The job is being deleted. */
  JOB_DELETING,
  /** The job is being reset. */
  JOB_RESETTING,
  /** The job's stored state cannot be read. */
  JOB_DAMAGED,
  /** Another PostData stream is active on the job. */
  DATA_STREAM_ACTIVE,
  /** The job was force-closed while this stream was active. */
  JOB_FORCE_CLOSED,
  /** A message of the stream is over the server's size limit. */
  CHUNK_TOO_LARGE,
  /** The upload passed the server's limit on one stream; send the rest in a new stream. */
  UPLOAD_TOO_LARGE,
  /** The server has as many streams as it allows. */
  TOO_MANY_STREAMS,
  /** The server has as many open jobs as it allows. */
  TOO_MANY_OPEN_JOBS,
  /** The stream sent nothing for longer than the server waits. */
  STREAM_IDLE_TIMEOUT,
  /** A server-side wait (open, close) did not finish in time. */
  TIMEOUT,
  /** The server is shutting down or restoring. */
  SERVER_DRAINING,
  /** The server's storage refuses writes. */
  STORAGE_UNAVAILABLE,
  /** No bucket starts at the timestamp asked for. */
  BUCKET_NOT_FOUND,
  /** No model snapshot has the id. */
  SNAPSHOT_NOT_FOUND,
  /** The snapshot is the job's active one. */
  SNAPSHOT_ACTIVE,
  /** A job's model could not be restored. */
  RESTORE_FAILED,
  /** The server requires an API key and the call had none. */
  API_KEY_REQUIRED,
  /** The API key is malformed, unknown or deleted. */
  API_KEY_INVALID,
  /** The API key's role lacks the method's privilege (metadata names it). */
  INSUFFICIENT_PRIVILEGES,
  /** A bug in the server; the details are in its log. */
  INTERNAL,
  /** A reason this client does not know, or no reason at all. */
  UNKNOWN;

  private static final Map<String, ErrorReason> BY_NAME = new HashMap<>();

  static {
    for (ErrorReason reason : values()) {
      if (reason != UNKNOWN) {
        BY_NAME.put(reason.name(), reason);
      }
    }
  }

  /**
   * The reason of a name as the server sends it.
   *
   * @param name an ErrorInfo reason such as "JOB_NOT_FOUND"; may be null or empty
   * @return its constant, or {@link #UNKNOWN}
   */
  public static ErrorReason of(String name) {
    return name == null ? UNKNOWN : BY_NAME.getOrDefault(name, UNKNOWN);
  }
}
