package anomalyd

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"testing"

	anomalydv1 "github.com/anomalyd/anomalyd/clients/go/gen/anomalyd/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/protoadapt"
)

// fakeJobs is an in-process JobService that records what it receives: the client's tests need
// no real server.
type fakeJobs struct {
	anomalydv1.UnimplementedJobServiceServer

	mu            sync.Mutex
	messages      []*anomalydv1.PostDataRequest
	authorization []string
	// refuseAfter makes PostData fail with this error after reading that many messages.
	refuseAfter int
	refusal     error
}

func (f *fakeJobs) GetJobs(ctx context.Context, r *anomalydv1.GetJobsRequest) (*anomalydv1.GetJobsResponse, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	f.mu.Lock()
	f.authorization = md.Get("authorization")
	f.mu.Unlock()
	if r.GetJobId() == "missing" {
		return nil, anomalydStatus(codes.NotFound, ReasonJobNotFound, "no job 'missing'", map[string]string{"jobId": "missing"})
	}
	return &anomalydv1.GetJobsResponse{}, nil
}

func (f *fakeJobs) PostData(stream grpc.ClientStreamingServer[anomalydv1.PostDataRequest, anomalydv1.PostDataResponse]) error {
	var records int64
	for read := 0; ; read++ {
		if f.refusal != nil && read == f.refuseAfter {
			return f.refusal
		}
		message, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return stream.SendAndClose(&anomalydv1.PostDataResponse{
				DataCounts: &anomalydv1.DataCounts{ProcessedRecordCount: records},
			})
		}
		if err != nil {
			return err
		}
		f.mu.Lock()
		f.messages = append(f.messages, message)
		f.mu.Unlock()
		for _, b := range message.GetData() {
			if b == '\n' {
				records++
			}
		}
		records += int64(len(message.GetColumns().GetTimes()))
	}
}

// anomalydStatus is an error as the server sends it: a status with one ErrorInfo, and a
// BadRequest for field violations given as field, description pairs.
func anomalydStatus(code codes.Code, reason Reason, message string, md map[string]string, violations ...string) error {
	details := []protoadapt.MessageV1{&errdetails.ErrorInfo{Reason: string(reason), Domain: "anomalyd.io", Metadata: md}}
	if len(violations) > 0 {
		bad := &errdetails.BadRequest{}
		for i := 0; i < len(violations); i += 2 {
			bad.FieldViolations = append(bad.FieldViolations,
				&errdetails.BadRequest_FieldViolation{Field: violations[i], Description: violations[i+1]})
		}
		details = append(details, bad)
	}
	s, err := status.New(code, message).WithDetails(details...)
	if err != nil {
		panic(err)
	}
	return s.Err()
}

// serve starts fake on an in-memory listener and returns a client for it.
func serve(t *testing.T, fake *fakeJobs, opts ...Option) *Client {
	t.Helper()
	listener := bufconn.Listen(1 << 20)
	server := grpc.NewServer()
	anomalydv1.RegisterJobServiceServer(server, fake)
	go server.Serve(listener) //nolint:errcheck // ends with Stop
	t.Cleanup(server.Stop)
	dial := func(ctx context.Context, _ string) (net.Conn, error) { return listener.DialContext(ctx) }
	opts = append(opts, WithDialOptions(grpc.WithContextDialer(dial)))
	client, err := NewClient("passthrough:///localhost", opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	return client
}
