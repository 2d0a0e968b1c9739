"""The errors of anomalyd's domain. The API layer turns each into a gRPC status.

Each error names its status (a grpc.StatusCode name, so that core need not import grpc), a
stable reason for clients to branch on, and metadata naming every value in the message.
"""

from __future__ import annotations


class AnomalydError(Exception):
    """Base of every error a request can fail with."""

    status = "INTERNAL"
    reason = "INTERNAL"

    def __init__(
        self,
        message: str,
        *,
        field_violations: tuple[tuple[str, str], ...] = (),
        **metadata: str,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.metadata = metadata
        self.field_violations = field_violations


class InvalidJobConfig(AnomalydError):
    """A job configuration breaks a rule; BadRequest names each bad field."""

    status = "INVALID_ARGUMENT"
    reason = "INVALID_JOB_CONFIG"


class InvalidRequest(AnomalydError):
    """A request field is missing or out of its range."""

    status = "INVALID_ARGUMENT"
    reason = "INVALID_REQUEST"


class InvalidColumns(AnomalydError):
    """A column batch is inconsistent: lengths, names or dictionary codes."""

    status = "INVALID_ARGUMENT"
    reason = "INVALID_COLUMN_BATCH"


class TooManyParseErrors(AnomalydError):
    """An upload held more malformed documents than Elasticsearch allows."""

    status = "INVALID_ARGUMENT"
    reason = "TOO_MANY_PARSE_ERRORS"


class JobAlreadyExists(AnomalydError):
    """PutJob names a job id that is taken."""

    status = "ALREADY_EXISTS"
    reason = "JOB_ALREADY_EXISTS"


class JobAndGroupNamesMustBeUnique(AnomalydError):
    """PutJob names a job id that is a group, or a group that is a job id (one namespace)."""

    status = "ALREADY_EXISTS"
    reason = "JOB_AND_GROUP_NAMES_MUST_BE_UNIQUE"


class JobNotFound(AnomalydError):
    """No job (or group) matches the id or expression."""

    status = "NOT_FOUND"
    reason = "JOB_NOT_FOUND"


class TaskNotFound(AnomalydError):
    """No task has the id."""

    status = "NOT_FOUND"
    reason = "TASK_NOT_FOUND"


class BucketNotFound(AnomalydError):
    """GetBuckets with a timestamp that starts no bucket (Elasticsearch's 404)."""

    status = "NOT_FOUND"
    reason = "BUCKET_NOT_FOUND"


class JobNotOpen(AnomalydError):
    """The job must be open for the request (data, flush, snapshot)."""

    status = "FAILED_PRECONDITION"
    reason = "JOB_NOT_OPEN"


class JobOpen(AnomalydError):
    """The job must be closed for the request (delete, revert) unless forced."""

    status = "FAILED_PRECONDITION"
    reason = "JOB_OPEN"


class JobFailed(AnomalydError):
    """The job failed; it must be force closed first."""

    status = "FAILED_PRECONDITION"
    reason = "JOB_FAILED"


class JobDeleting(AnomalydError):
    """The job is being deleted."""

    status = "FAILED_PRECONDITION"
    reason = "JOB_DELETING"


class JobResetting(AnomalydError):
    """The job is being reset."""

    status = "FAILED_PRECONDITION"
    reason = "JOB_RESETTING"


class DataStreamActive(AnomalydError):
    """The job already has a data stream; a job takes one at a time."""

    status = "ABORTED"
    reason = "DATA_STREAM_ACTIVE"


class StreamAborted(AnomalydError):
    """The job was force closed or failed while the stream was active."""

    status = "ABORTED"
    reason = "JOB_FORCE_CLOSED"


class ChunkTooLarge(AnomalydError):
    """A message or document is over its size limit."""

    status = "RESOURCE_EXHAUSTED"
    reason = "CHUNK_TOO_LARGE"


class Timeout(AnomalydError):
    """An open or close did not finish within its timeout; it goes on."""

    status = "DEADLINE_EXCEEDED"
    reason = "TIMEOUT"


class Draining(AnomalydError):
    """The server is shutting down or restoring."""

    status = "UNAVAILABLE"
    reason = "SERVER_DRAINING"


class JobAlreadyOpen(AnomalydError):
    """OpenJob on a job that is not closed."""

    status = "FAILED_PRECONDITION"
    reason = "JOB_ALREADY_OPEN"


class SnapshotNotFound(AnomalydError):
    """The job has no snapshot with the id."""

    status = "NOT_FOUND"
    reason = "SNAPSHOT_NOT_FOUND"


class SnapshotActive(AnomalydError):
    """The active snapshot cannot be deleted."""

    status = "FAILED_PRECONDITION"
    reason = "SNAPSHOT_ACTIVE"


class RestoreFailed(AnomalydError):
    """No snapshot and journal together restore the job."""

    status = "FAILED_PRECONDITION"
    reason = "RESTORE_FAILED"


class StorageUnavailable(AnomalydError):
    """The disk refused a write; nothing of it was kept."""

    status = "RESOURCE_EXHAUSTED"
    reason = "STORAGE_UNAVAILABLE"


class TooManyStreams(AnomalydError):
    """The server holds max_streams data streams already."""

    status = "RESOURCE_EXHAUSTED"
    reason = "TOO_MANY_STREAMS"


class TooManyOpenJobs(AnomalydError):
    """The server holds max_open_jobs open jobs already."""

    status = "RESOURCE_EXHAUSTED"
    reason = "TOO_MANY_OPEN_JOBS"


class UploadTooLarge(AnomalydError):
    """A stream would carry more than max_upload_bytes."""

    status = "RESOURCE_EXHAUSTED"
    reason = "UPLOAD_TOO_LARGE"


class StreamIdle(AnomalydError):
    """A stream sent no message within stream_idle_timeout."""

    status = "RESOURCE_EXHAUSTED"
    reason = "STREAM_IDLE_TIMEOUT"


class JobDamaged(AnomalydError):
    """A job's stored configuration cannot be read."""

    status = "DATA_LOSS"
    reason = "JOB_DAMAGED"


class ApiKeyRequired(AnomalydError):
    """The server needs an API key and the call carries none."""

    status = "UNAUTHENTICATED"
    reason = "API_KEY_REQUIRED"


class ApiKeyInvalid(AnomalydError):
    """The call's API key is malformed, unknown or wrong."""

    status = "UNAUTHENTICATED"
    reason = "API_KEY_INVALID"


class InsufficientPrivileges(AnomalydError):
    """The call's API key lacks the privilege the method needs."""

    status = "PERMISSION_DENIED"
    reason = "INSUFFICIENT_PRIVILEGES"
