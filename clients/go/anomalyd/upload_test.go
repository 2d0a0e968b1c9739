package anomalyd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
)

func ndjson(records int) []byte {
	var data []byte
	for i := range records {
		data = fmt.Appendf(data, `{"time": %d, "airline": "A%d", "responsetime": %d}`+"\n", 1_700_000_000+i, i%19, i%997)
	}
	return data
}

func TestPostDataSendsChunksOfAboutAMebibyteCutAfterNewlines(t *testing.T) {
	data := ndjson(70_000) // about 3.7 MiB
	// One Write of everything (bytes.Reader is an io.WriterTo), and many small ones.
	for _, source := range []io.Reader{bytes.NewReader(data), iotest.HalfReader(bytes.NewReader(data))} {
		postInChunks(t, data, source)
	}
}

func postInChunks(t *testing.T, data []byte, source io.Reader) {
	fake := &fakeJobs{}
	c := serve(t, fake)
	start := time.Unix(1_700_000_000, 0)
	counts, err := c.PostData(context.Background(), "web", source, WithReset(start, time.Time{}))
	if err != nil {
		t.Fatal(err)
	}
	if counts.GetProcessedRecordCount() != 70_000 {
		t.Errorf("the fake counted %d records", counts.GetProcessedRecordCount())
	}
	if len(fake.messages) != 4 {
		t.Errorf("%d messages for %d bytes", len(fake.messages), len(data))
	}
	var received []byte
	for i, m := range fake.messages {
		chunk := m.GetData()
		if len(chunk) > ChunkSize || len(chunk) < ChunkSize-100 && i < len(fake.messages)-1 {
			t.Errorf("message %d holds %d bytes", i, len(chunk))
		}
		if !bytes.HasSuffix(chunk, []byte("\n")) {
			t.Errorf("message %d ends within a line: %q", i, chunk[len(chunk)-20:])
		}
		if (m.GetJobId() == "web") != (i == 0) || (m.GetResetStart() != nil) != (i == 0) {
			t.Errorf("message %d: job %q, reset %v; only the first names them", i, m.GetJobId(), m.GetResetStart())
		}
		received = append(received, chunk...)
	}
	if !bytes.Equal(received, data) {
		t.Error("the messages do not add up to the data")
	}
	if got := fake.messages[0].GetResetStart().AsTime(); !got.Equal(start) || fake.messages[0].GetResetEnd() != nil {
		t.Errorf("reset %v to %v", got, fake.messages[0].GetResetEnd())
	}
}

func TestADocumentLongerThanAChunkIsCutAnywhere(t *testing.T) {
	fake := &fakeJobs{}
	c := serve(t, fake)
	data := []byte(`{"time": 1, "text": "` + strings.Repeat("x", 2*ChunkSize) + `"}` + "\n" + `{"time": 2}` + "\n")
	if _, err := c.PostData(context.Background(), "web", bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	sizes := []int{}
	var received []byte
	for _, m := range fake.messages {
		sizes = append(sizes, len(m.GetData()))
		received = append(received, m.GetData()...)
	}
	if !slices.Equal(sizes, []int{ChunkSize, ChunkSize, len(data) - 2*ChunkSize}) || !bytes.Equal(received, data) {
		t.Errorf("message sizes %v for %d bytes", sizes, len(data))
	}
}

func TestAnEmptyUploadStillNamesItsJob(t *testing.T) {
	fake := &fakeJobs{}
	c := serve(t, fake)
	if _, err := c.PostData(context.Background(), "web", strings.NewReader("")); err != nil {
		t.Fatal(err)
	}
	if len(fake.messages) != 1 || fake.messages[0].GetJobId() != "web" {
		t.Errorf("messages %v", fake.messages)
	}
}

func TestARefusedUploadReturnsTheServersReason(t *testing.T) {
	refusal := anomalydStatus(codes.Aborted, ReasonDataStreamActive, "job 'web' has an active stream", map[string]string{"jobId": "web"})
	for _, after := range []int{0, 2} {
		c := serve(t, &fakeJobs{refuseAfter: after, refusal: refusal})
		counts, err := c.PostData(context.Background(), "web", bytes.NewReader(ndjson(100_000)))
		var e *Error
		if !errors.As(err, &e) || e.Reason != ReasonDataStreamActive || e.Code != codes.Aborted || counts != nil {
			t.Errorf("refused after %d messages: %v, %v", after, counts, err)
		}
	}
}

func TestAReaderThatFailsEndsTheUploadWithItsErrorAndTheCounts(t *testing.T) {
	fake := &fakeJobs{}
	c := serve(t, fake)
	broken := errors.New("disk on fire")
	source := io.MultiReader(bytes.NewReader(ndjson(30_000)), iotest.ErrReader(broken))
	counts, err := c.PostData(context.Background(), "web", source)
	if !errors.Is(err, broken) || ReasonOf(err) != "" {
		t.Errorf("error %v", err)
	}
	if counts.GetProcessedRecordCount() != 30_000 {
		t.Errorf("counts %v: what was read is sent, and its counts come back", counts)
	}
}

func TestAFlushedUploadHoldsTheStreamUntilClosed(t *testing.T) {
	fake := &fakeJobs{}
	c := serve(t, fake)
	upload, err := c.NewUpload(context.Background(), "web")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := upload.Write([]byte(`{"time": 1}` + "\n" + `{"time"`)); err != nil {
		t.Fatal(err)
	}
	if err := upload.Flush(); err != nil {
		t.Fatal(err)
	}
	if _, err := upload.Write([]byte(`: 2}` + "\n")); err != nil {
		t.Fatal(err)
	}
	counts, err := upload.Close()
	if err != nil || counts.GetProcessedRecordCount() != 2 {
		t.Fatalf("%v, %v", counts, err)
	}
	if len(fake.messages) != 2 || string(fake.messages[0].GetData()) != `{"time": 1}`+"\n"+`{"time"` {
		t.Errorf("messages %v", fake.messages)
	}
}

func TestColumnsBecomeABatchWithDictionaryEncodedStrings(t *testing.T) {
	times := []time.Time{time.UnixMilli(1000), {}, time.UnixMilli(3000)}
	batch, err := Columns{
		Times:   times,
		Numbers: map[string][]float64{"responsetime": {1, math.NaN(), 3}, "bytes": {4, 5, 6}},
		Strings: map[string][]string{"airline": {"AAL", "JBU", "AAL"}},
	}.Batch()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(batch.GetTimes(), []int64{1000, math.MinInt64, 3000}) {
		t.Errorf("times %v", batch.GetTimes())
	}
	if names := []string{batch.NumericColumns[0].Name, batch.NumericColumns[1].Name}; !slices.Equal(names, []string{"bytes", "responsetime"}) {
		t.Errorf("numeric columns %v, want name order", names)
	}
	airline := batch.StringColumns[0]
	if !slices.Equal(airline.Dictionary, []string{"AAL", "JBU"}) || !slices.Equal(airline.Codes, []uint32{1, 2, 1}) {
		t.Errorf("airline %v", airline)
	}
	if _, err := (Columns{Times: times, Strings: map[string][]string{"airline": {"AAL"}}}).Batch(); err == nil {
		t.Error("a short column must fail")
	}
}

func TestPostColumnsSendsOneMessagePerBatch(t *testing.T) {
	fake := &fakeJobs{}
	c := serve(t, fake)
	one, _ := Columns{Times: []time.Time{time.UnixMilli(1)}}.Batch()
	two, _ := Columns{Times: []time.Time{time.UnixMilli(2), time.UnixMilli(3)}}.Batch()
	counts, err := c.PostColumns(context.Background(), "web", one, two)
	if err != nil || counts.GetProcessedRecordCount() != 3 {
		t.Fatalf("%v, %v", counts, err)
	}
	if len(fake.messages) != 2 || fake.messages[0].GetJobId() != "web" || !proto.Equal(fake.messages[1].GetColumns(), two) {
		t.Errorf("messages %v", fake.messages)
	}
}
