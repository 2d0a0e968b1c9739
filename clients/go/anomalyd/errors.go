package anomalyd

import (
	"errors"
	"fmt"

	"google.golang.org/genproto/googleapis/rpc/code"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Reason is the stable reason of a failure, from the google.rpc.ErrorInfo that every anomalyd
// error carries. Branch on it, never on an error's message, which may be reworded.
type Reason string

// The reasons the server fails with, by status code.
const (
	// ReasonInvalidJobConfig (INVALID_ARGUMENT): a job configuration is invalid; FieldViolations
	// name each bad field.
	ReasonInvalidJobConfig Reason = "INVALID_JOB_CONFIG"
	// ReasonInvalidRequest (INVALID_ARGUMENT): a request field is invalid (a bad time range, a
	// timeout over a day, an unknown sort field).
	ReasonInvalidRequest Reason = "INVALID_REQUEST"
	// ReasonInvalidColumnBatch (INVALID_ARGUMENT): a ColumnBatch's columns are inconsistent.
	ReasonInvalidColumnBatch Reason = "INVALID_COLUMN_BATCH"
	// ReasonTooManyParseErrors (INVALID_ARGUMENT): an upload held over 100 documents that were
	// not JSON objects; what came before stays accepted.
	ReasonTooManyParseErrors Reason = "TOO_MANY_PARSE_ERRORS"
	// ReasonJobAlreadyExists (ALREADY_EXISTS): PutJob with an id that is taken.
	ReasonJobAlreadyExists Reason = "JOB_ALREADY_EXISTS"
	// ReasonJobAndGroupNamesMustBeUnique (ALREADY_EXISTS): PutJob with an id that is a group of
	// a job, or a group that is a job's id: jobs and groups share one namespace.
	ReasonJobAndGroupNamesMustBeUnique Reason = "JOB_AND_GROUP_NAMES_MUST_BE_UNIQUE"
	// ReasonJobNotFound (NOT_FOUND): no such job, or an expression matched nothing with
	// allow_no_match false. Metadata["jobId"] names it.
	ReasonJobNotFound Reason = "JOB_NOT_FOUND"
	// ReasonTaskNotFound (NOT_FOUND): GetTask of an unknown task.
	ReasonTaskNotFound Reason = "TASK_NOT_FOUND"
	// ReasonBucketNotFound (NOT_FOUND): GetBuckets with a timestamp that starts no bucket.
	ReasonBucketNotFound Reason = "BUCKET_NOT_FOUND"
	// ReasonSnapshotNotFound (NOT_FOUND): no such model snapshot.
	ReasonSnapshotNotFound Reason = "SNAPSHOT_NOT_FOUND"
	// ReasonJobNotOpen (FAILED_PRECONDITION): data or a flush for a job that is not open.
	ReasonJobNotOpen Reason = "JOB_NOT_OPEN"
	// ReasonJobOpen (FAILED_PRECONDITION): deleting an open job without force, or reverting
	// the model snapshot of a job that is not closed.
	ReasonJobOpen Reason = "JOB_OPEN"
	// ReasonJobAlreadyOpen (FAILED_PRECONDITION): OpenJob of a job that is open or opening.
	ReasonJobAlreadyOpen Reason = "JOB_ALREADY_OPEN"
	// ReasonJobFailed (FAILED_PRECONDITION): the job failed; close it with force.
	ReasonJobFailed Reason = "JOB_FAILED"
	// ReasonJobDeleting (FAILED_PRECONDITION): the job is being deleted.
	ReasonJobDeleting Reason = "JOB_DELETING"
	// ReasonJobResetting (FAILED_PRECONDITION): the job is being reset.
	ReasonJobResetting Reason = "JOB_RESETTING"
	// ReasonSnapshotActive (FAILED_PRECONDITION): deleting the job's active model snapshot.
	ReasonSnapshotActive Reason = "SNAPSHOT_ACTIVE"
	// ReasonRestoreFailed (FAILED_PRECONDITION): no snapshot of a job's model could be
	// restored.
	ReasonRestoreFailed Reason = "RESTORE_FAILED"
	// ReasonDataStreamActive (ABORTED): another PostData stream is active on the job.
	ReasonDataStreamActive Reason = "DATA_STREAM_ACTIVE"
	// ReasonJobForceClosed (ABORTED): the job was force-closed while this stream was active.
	ReasonJobForceClosed Reason = "JOB_FORCE_CLOSED"
	// ReasonChunkTooLarge (RESOURCE_EXHAUSTED): a message or a single document is over the
	// server's size limit.
	ReasonChunkTooLarge Reason = "CHUNK_TOO_LARGE"
	// ReasonUploadTooLarge (RESOURCE_EXHAUSTED): the stream passed the server's upload limit;
	// Metadata["processedRecordCount"] says how many records it kept.
	ReasonUploadTooLarge Reason = "UPLOAD_TOO_LARGE"
	// ReasonTooManyStreams (RESOURCE_EXHAUSTED): the server is at its stream limit.
	ReasonTooManyStreams Reason = "TOO_MANY_STREAMS"
	// ReasonTooManyOpenJobs (RESOURCE_EXHAUSTED): the server is at its open-job limit.
	ReasonTooManyOpenJobs Reason = "TOO_MANY_OPEN_JOBS"
	// ReasonStreamIdleTimeout (RESOURCE_EXHAUSTED): a stream sent nothing for too long.
	ReasonStreamIdleTimeout Reason = "STREAM_IDLE_TIMEOUT"
	// ReasonStorageUnavailable (RESOURCE_EXHAUSTED): the server's disk refused a write.
	ReasonStorageUnavailable Reason = "STORAGE_UNAVAILABLE"
	// ReasonTimeout (DEADLINE_EXCEEDED): an open or close did not finish within its timeout.
	ReasonTimeout Reason = "TIMEOUT"
	// ReasonServerDraining (UNAVAILABLE): the server is shutting down or restoring.
	ReasonServerDraining Reason = "SERVER_DRAINING"
	// ReasonJobDamaged (DATA_LOSS): a job's stored state cannot be read.
	ReasonJobDamaged Reason = "JOB_DAMAGED"
	// ReasonAPIKeyRequired (UNAUTHENTICATED): the server requires an API key (WithAPIKey).
	ReasonAPIKeyRequired Reason = "API_KEY_REQUIRED"
	// ReasonAPIKeyInvalid (UNAUTHENTICATED): the API key is malformed, unknown or deleted.
	ReasonAPIKeyInvalid Reason = "API_KEY_INVALID"
	// ReasonInsufficientPrivileges (PERMISSION_DENIED): the key's role lacks the method's
	// privilege; Metadata names the privilege.
	ReasonInsufficientPrivileges Reason = "INSUFFICIENT_PRIVILEGES"
	// ReasonInternal (INTERNAL): a bug in the server; its log has the details.
	ReasonInternal Reason = "INTERNAL"
)

// Error is a failed call. Every error a Client returns from a call is an *Error, whether the
// server refused the call or it failed on the way (then Reason is empty and Code says why:
// UNAVAILABLE, DEADLINE_EXCEEDED, CANCELED...). Use errors.As to reach it, or ReasonOf.
type Error struct {
	// Code is the gRPC status code.
	Code codes.Code
	// Reason is the ErrorInfo reason; empty when the failure did not come from anomalyd.
	Reason Reason
	// Message says what went wrong, for people.
	Message string
	// Metadata is the ErrorInfo metadata (lowerCamel keys), naming every value in Message.
	Metadata map[string]string
	// FieldViolations name each bad field of a request (from a google.rpc.BadRequest).
	FieldViolations []FieldViolation

	status *status.Status
}

// FieldViolation is one bad field of a request.
type FieldViolation struct {
	// Field is the path of the field, such as "analysis_config.detectors[0].function".
	Field string
	// Description says what is wrong with it.
	Description string
}

// Error formats the error as "anomalyd: CODE REASON: message".
func (e *Error) Error() string {
	name := code.Code(e.Code).String()
	if e.Reason != "" {
		name += " " + string(e.Reason)
	}
	return fmt.Sprintf("anomalyd: %s: %s", name, e.Message)
}

// GRPCStatus returns the status the error came from, so that status.FromError and
// status.Code keep working on it.
func (e *Error) GRPCStatus() *status.Status {
	return e.status
}

// ReasonOf returns the reason of err if it is (or wraps) an *Error, or "" otherwise.
func ReasonOf(err error) Reason {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ""
}

// fromError turns a gRPC status error into an *Error and passes any other error (nil, io.EOF)
// through unchanged.
func fromError(err error) error {
	var already *Error
	if err == nil || errors.As(err, &already) {
		return err
	}
	s, ok := status.FromError(err)
	if !ok {
		return err
	}
	e := &Error{Code: s.Code(), Message: s.Message(), Metadata: map[string]string{}, status: s}
	for _, detail := range s.Details() {
		switch d := detail.(type) {
		case *errdetails.ErrorInfo:
			e.Reason = Reason(d.GetReason())
			for k, v := range d.GetMetadata() {
				e.Metadata[k] = v
			}
		case *errdetails.BadRequest:
			for _, v := range d.GetFieldViolations() {
				e.FieldViolations = append(e.FieldViolations, FieldViolation{v.GetField(), v.GetDescription()})
			}
		}
	}
	return e
}
