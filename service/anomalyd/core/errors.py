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
    status = "INVALID_ARGUMENT"
    reason = "INVALID_JOB_CONFIG"


class InvalidRequest(AnomalydError):
    status = "INVALID_ARGUMENT"
    reason = "INVALID_REQUEST"


class InvalidColumns(AnomalydError):
    status = "INVALID_ARGUMENT"
    reason = "INVALID_COLUMN_BATCH"


class TooManyParseErrors(AnomalydError):
    status = "INVALID_ARGUMENT"
    reason = "TOO_MANY_PARSE_ERRORS"


class JobAlreadyExists(AnomalydError):
    status = "ALREADY_EXISTS"
    reason = "JOB_ALREADY_EXISTS"


class JobNotFound(AnomalydError):
    status = "NOT_FOUND"
    reason = "JOB_NOT_FOUND"


class TaskNotFound(AnomalydError):
    status = "NOT_FOUND"
    reason = "TASK_NOT_FOUND"


class JobNotOpen(AnomalydError):
    status = "FAILED_PRECONDITION"
    reason = "JOB_NOT_OPEN"


class JobOpen(AnomalydError):
    status = "FAILED_PRECONDITION"
    reason = "JOB_OPEN"


class JobFailed(AnomalydError):
    status = "FAILED_PRECONDITION"
    reason = "JOB_FAILED"


class JobDeleting(AnomalydError):
    status = "FAILED_PRECONDITION"
    reason = "JOB_DELETING"


class DataStreamActive(AnomalydError):
    status = "ABORTED"
    reason = "DATA_STREAM_ACTIVE"


class StreamAborted(AnomalydError):
    status = "ABORTED"
    reason = "JOB_FORCE_CLOSED"


class ChunkTooLarge(AnomalydError):
    status = "RESOURCE_EXHAUSTED"
    reason = "CHUNK_TOO_LARGE"


class Timeout(AnomalydError):
    status = "DEADLINE_EXCEEDED"
    reason = "TIMEOUT"


class Draining(AnomalydError):
    status = "UNAVAILABLE"
    reason = "SERVER_DRAINING"


class JobAlreadyOpen(AnomalydError):
    status = "FAILED_PRECONDITION"
    reason = "JOB_ALREADY_OPEN"


class SnapshotNotFound(AnomalydError):
    status = "NOT_FOUND"
    reason = "SNAPSHOT_NOT_FOUND"


class SnapshotActive(AnomalydError):
    status = "FAILED_PRECONDITION"
    reason = "SNAPSHOT_ACTIVE"


class RestoreFailed(AnomalydError):
    status = "FAILED_PRECONDITION"
    reason = "RESTORE_FAILED"


class StorageUnavailable(AnomalydError):
    status = "RESOURCE_EXHAUSTED"
    reason = "STORAGE_UNAVAILABLE"


class TooManyStreams(AnomalydError):
    status = "RESOURCE_EXHAUSTED"
    reason = "TOO_MANY_STREAMS"


class TooManyOpenJobs(AnomalydError):
    status = "RESOURCE_EXHAUSTED"
    reason = "TOO_MANY_OPEN_JOBS"


class UploadTooLarge(AnomalydError):
    status = "RESOURCE_EXHAUSTED"
    reason = "UPLOAD_TOO_LARGE"


class StreamIdle(AnomalydError):
    status = "RESOURCE_EXHAUSTED"
    reason = "STREAM_IDLE_TIMEOUT"


class JobDamaged(AnomalydError):
    status = "DATA_LOSS"
    reason = "JOB_DAMAGED"


class ApiKeyRequired(AnomalydError):
    status = "UNAUTHENTICATED"
    reason = "API_KEY_REQUIRED"


class ApiKeyInvalid(AnomalydError):
    status = "UNAUTHENTICATED"
    reason = "API_KEY_INVALID"


class InsufficientPrivileges(AnomalydError):
    status = "PERMISSION_DENIED"
    reason = "INSUFFICIENT_PRIVILEGES"
