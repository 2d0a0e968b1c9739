package anomalyd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"testing"

	anomalydv1 "github.com/anomalyd/anomalyd/clients/go/gen/anomalyd/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestAnErrorCarriesCodeReasonMetadataAndFieldViolations(t *testing.T) {
	err := fromError(anomalydStatus(codes.InvalidArgument, ReasonInvalidJobConfig, "unknown function 'nope'",
		map[string]string{"jobId": "web"}, "analysis_config.detectors[0].function", "unknown function 'nope'"))
	var e *Error
	if !errors.As(fmt.Errorf("wrapped: %w", err), &e) {
		t.Fatalf("%T is no *Error", err)
	}
	if e.Code != codes.InvalidArgument || e.Reason != ReasonInvalidJobConfig || e.Metadata["jobId"] != "web" {
		t.Errorf("got %v %v %v", e.Code, e.Reason, e.Metadata)
	}
	want := []FieldViolation{{"analysis_config.detectors[0].function", "unknown function 'nope'"}}
	if !slices.Equal(e.FieldViolations, want) {
		t.Errorf("field violations %v, want %v", e.FieldViolations, want)
	}
	if got := e.Error(); got != "anomalyd: INVALID_ARGUMENT INVALID_JOB_CONFIG: unknown function 'nope'" {
		t.Errorf("Error() = %q", got)
	}
	if status.Code(err) != codes.InvalidArgument {
		t.Errorf("status.Code = %v: the gRPC status is lost", status.Code(err))
	}
}

func TestFailuresWithoutErrorInfoAreErrorsWithoutReason(t *testing.T) {
	err := fromError(status.Error(codes.Unavailable, "connection refused"))
	if ReasonOf(err) != "" || status.Code(err) != codes.Unavailable {
		t.Errorf("got %v", err)
	}
	if fromError(io.EOF) != io.EOF || fromError(nil) != nil {
		t.Error("errors that are no status must pass through")
	}
	if ReasonOf(io.EOF) != "" {
		t.Error("ReasonOf of a plain error is empty")
	}
}

func TestUnaryCallsReturnErrors(t *testing.T) {
	c := serve(t, &fakeJobs{})
	_, err := c.GetJobs(context.Background(), &anomalydv1.GetJobsRequest{JobId: "missing"})
	var e *Error
	if !errors.As(err, &e) || e.Reason != ReasonJobNotFound || e.Code != codes.NotFound || e.Metadata["jobId"] != "missing" {
		t.Fatalf("got %#v", err)
	}
}

// The server's reasons live in one file (service/anomalyd/core/errors.py); each needs a constant.
func TestEveryReasonOfTheServerHasAConstant(t *testing.T) {
	source, err := os.ReadFile("../../../service/anomalyd/core/errors.py")
	if err != nil {
		t.Fatal(err)
	}
	known := map[Reason]bool{}
	for _, r := range []Reason{
		ReasonInvalidJobConfig, ReasonInvalidRequest, ReasonInvalidColumnBatch, ReasonTooManyParseErrors,
		ReasonJobAlreadyExists, ReasonJobAndGroupNamesMustBeUnique, ReasonJobNotFound, ReasonTaskNotFound, ReasonBucketNotFound, ReasonSnapshotNotFound, ReasonJobNotOpen,
		ReasonJobOpen, ReasonJobAlreadyOpen, ReasonJobFailed, ReasonJobDeleting, ReasonJobResetting, ReasonSnapshotActive,
		ReasonRestoreFailed, ReasonDataStreamActive, ReasonJobForceClosed, ReasonChunkTooLarge, ReasonUploadTooLarge,
		ReasonTooManyStreams, ReasonTooManyOpenJobs, ReasonStreamIdleTimeout, ReasonStorageUnavailable, ReasonTimeout,
		ReasonServerDraining, ReasonJobDamaged, ReasonAPIKeyRequired, ReasonAPIKeyInvalid,
		ReasonInsufficientPrivileges, ReasonInternal,
	} {
		known[r] = true
	}
	matches := regexp.MustCompile(`reason = "([A-Z_]+)"`).FindAllStringSubmatch(string(source), -1)
	if len(matches) < 10 {
		t.Fatalf("found %d reasons in errors.py: has its form changed?", len(matches))
	}
	for _, m := range matches {
		if !known[Reason(m[1])] {
			t.Errorf("the server fails with %s, which has no Reason constant", m[1])
		}
	}
	if len(known) != len(matches) {
		t.Errorf("%d constants for %d reasons of the server", len(known), len(matches))
	}
}
