package anomalyd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	anomalydv1 "github.com/anomalyd/anomalyd/clients/go/gen/anomalyd/v1"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// ChunkSize is the data bytes an upload sends per message: big enough that a message costs
// the server little, far below its 16 MiB message limit.
const ChunkSize = 1 << 20

// PostOption configures an upload.
type PostOption func(*anomalydv1.PostDataRequest)

// WithReset resets the buckets from start to end before the upload, so that their data can be
// sent again. A zero end means start plus one second.
func WithReset(start, end time.Time) PostOption {
	return func(first *anomalydv1.PostDataRequest) {
		first.ResetStart = timestamppb.New(start)
		if !end.IsZero() {
			first.ResetEnd = timestamppb.New(end)
		}
	}
}

// PostData streams the JSON documents of r (NDJSON, or any whitespace-separated JSON objects)
// into an open job in one PostData stream, in messages of about ChunkSize bytes cut after a
// newline, and returns the upload's counts.
//
// It fails with an *Error (JOB_NOT_FOUND, JOB_NOT_OPEN, DATA_STREAM_ACTIVE, CHUNK_TOO_LARGE...)
// or with r's error. Data the server accepted before a failure stays accepted; when r fails,
// the stream is ended so that the counts of what was sent come back with r's error.
func (c *Client) PostData(ctx context.Context, jobID string, r io.Reader, opts ...PostOption) (*anomalydv1.DataCounts, error) {
	upload, err := c.NewUpload(ctx, jobID, opts...)
	if err != nil {
		return nil, err
	}
	_, copyErr := io.Copy(upload, r)
	counts, err := upload.Close()
	var serverErr *Error
	if copyErr != nil && !errors.As(copyErr, &serverErr) {
		return counts, fmt.Errorf("anomalyd: reading the data of job %s: %w", jobID, copyErr)
	}
	return counts, err
}

// PostColumns sends column batches (see Columns) into an open job in one PostData stream, one
// message per batch, and returns the upload's counts. It fails as PostData does, and with
// INVALID_COLUMN_BATCH for an inconsistent batch.
func (c *Client) PostColumns(ctx context.Context, jobID string, batches ...*anomalydv1.ColumnBatch) (*anomalydv1.DataCounts, error) {
	upload, err := c.NewUpload(ctx, jobID)
	if err != nil {
		return nil, err
	}
	for _, batch := range batches {
		if upload.SendColumns(batch) != nil {
			break // Close reports the stream's error
		}
	}
	return upload.Close()
}

// Upload is one PostData stream into a job: an io.Writer of JSON documents that sends them in
// messages of about ChunkSize bytes cut after a newline, and a sender of column batches. The
// job takes no other stream until Close. An Upload is not safe for concurrent use.
type Upload struct {
	stream  grpc.ClientStreamingClient[anomalydv1.PostDataRequest, anomalydv1.PostDataResponse]
	first   *anomalydv1.PostDataRequest // job id and reset range, until a message has gone
	pending []byte                      // data not sent yet
	err     error                       // the stream's failure, once known
}

// NewUpload starts a PostData stream into an open job. The server checks the job when the
// first message arrives, so a missing or closed job fails a later Write, Flush or Close.
// Canceling ctx abandons the stream (what was sent stays accepted).
func (c *Client) NewUpload(ctx context.Context, jobID string, opts ...PostOption) (*Upload, error) {
	stream, err := c.JobServiceClient.PostData(ctx)
	if err != nil {
		return nil, err
	}
	first := &anomalydv1.PostDataRequest{JobId: jobID}
	for _, opt := range opts {
		opt(first)
	}
	return &Upload{stream: stream, first: first}, nil
}

// Write buffers p and sends every full chunk. It returns len(p), or the stream's *Error once
// the server has ended the stream.
func (u *Upload) Write(p []byte) (int, error) {
	if u.err != nil {
		return 0, u.err
	}
	written := 0
	for len(u.pending)+len(p) >= ChunkSize {
		// Fill one chunk and send what ends at its last newline: each byte is copied at most
		// twice, however much one Write brings.
		take := ChunkSize - len(u.pending)
		u.pending = append(u.pending, p[:take]...)
		p, written = p[take:], written+take
		if err := u.send(u.takeChunk(), nil); err != nil {
			return written, err
		}
	}
	u.pending = append(u.pending, p...)
	return written + len(p), nil
}

// Flush sends the buffered data now, even if it ends within a document. The first Flush sends
// a message even without data, so that the server knows the stream (and holds the job for it).
func (u *Upload) Flush() error {
	if u.err != nil || (len(u.pending) == 0 && u.first == nil) {
		return u.err
	}
	data := u.pending
	u.pending = nil
	return u.send(data, nil)
}

// SendColumns sends the buffered data, then batch, in one message.
func (u *Upload) SendColumns(batch *anomalydv1.ColumnBatch) error {
	if u.err != nil {
		return u.err
	}
	data := u.pending
	u.pending = nil
	return u.send(data, batch)
}

// Close sends the buffered data, ends the stream and returns the upload's counts, or the
// stream's *Error.
func (u *Upload) Close() (*anomalydv1.DataCounts, error) {
	if u.err == nil && (len(u.pending) > 0 || u.first != nil) {
		data := u.pending
		u.pending = nil
		_ = u.send(data, nil)
	}
	if u.err != nil {
		return nil, u.err
	}
	response, err := u.stream.CloseAndRecv()
	if err != nil {
		u.err = err
		return nil, err
	}
	return response.GetDataCounts(), nil
}

// takeChunk removes and returns the first chunk of a full buffer: up to its last newline, or
// all of it for a document longer than ChunkSize (the server reassembles documents split
// across messages).
func (u *Upload) takeChunk() []byte {
	end := len(u.pending)
	if newline := bytes.LastIndexByte(u.pending, '\n'); newline >= 0 {
		end = newline + 1
	}
	// The message owns its bytes (gRPC may read a sent message later): the rest moves to a
	// new buffer.
	chunk := u.pending[:end:end]
	u.pending = append(make([]byte, 0, ChunkSize), u.pending[end:]...)
	return chunk
}

func (u *Upload) send(data []byte, batch *anomalydv1.ColumnBatch) error {
	message := u.first
	u.first = nil
	if message == nil {
		message = &anomalydv1.PostDataRequest{}
	}
	message.Data, message.Columns = data, batch
	if err := u.stream.Send(message); err != nil {
		// io.EOF means the server ended the stream; its status says why.
		if errors.Is(err, io.EOF) {
			_, err = u.stream.CloseAndRecv()
			if err == nil {
				err = errors.New("anomalyd: the server ended the upload early")
			}
		}
		u.err = err
		return err
	}
	return nil
}
