// Command interop drives the Go client for the shared interop tests (clients/INTEROP.md): one
// command per run, its results as JSON lines on stdout. A failed call prints {"error": ...} and
// exits 3; anything else that goes wrong exits 1 (2 for bad usage).
//
//	interop --target HOST:PORT [--ca FILE] [--cert FILE --key FILE] [--api-key CREDENTIAL] COMMAND [FLAGS]
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/anomalyd/anomalyd/clients/go/anomalyd"
	anomalydv1 "github.com/anomalyd/anomalyd/clients/go/gen/anomalyd/v1"
	"google.golang.org/genproto/googleapis/rpc/code"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
)

var commands = map[string]func(ctx context.Context, c *anomalyd.Client, args []string) error{
	"example":  example,
	"put-job":  putJob,
	"get-jobs": getJobs,
	"open":     open,
	"post":     post,
	"bench":    bench,
}

func main() {
	global := flag.NewFlagSet("interop", flag.ExitOnError)
	target := global.String("target", "", "the server's HOST:PORT (required)")
	ca := global.String("ca", "", "PEM CA certificates to verify the server with (TLS)")
	cert := global.String("cert", "", "PEM client certificate (mutual TLS)")
	key := global.String("key", "", "the client certificate's PEM key")
	apiKey := global.String("api-key", "", "an API key credential, sent as 'authorization: ApiKey CREDENTIAL'")
	_ = global.Parse(os.Args[1:])
	if *target == "" || global.NArg() == 0 || commands[global.Arg(0)] == nil {
		fmt.Fprintln(os.Stderr, "usage: interop --target HOST:PORT [--ca F] [--cert F --key F] [--api-key K] example|put-job|get-jobs|open|post|bench ...")
		os.Exit(2)
	}
	var options []anomalyd.Option
	if *ca != "" {
		options = append(options, anomalyd.WithCAFile(*ca))
	}
	if *cert != "" || *key != "" {
		options = append(options, anomalyd.WithClientCertificate(*cert, *key))
	}
	if *apiKey != "" {
		options = append(options, anomalyd.WithAPIKey(*apiKey))
	}
	client, err := anomalyd.NewClient(*target, options...)
	if err == nil {
		err = commands[global.Arg(0)](context.Background(), client, global.Args()[1:])
		client.Close()
	}
	var failed *anomalyd.Error
	switch {
	case errors.As(err, &failed):
		printError(failed)
		os.Exit(3)
	case err != nil:
		fmt.Fprintln(os.Stderr, "interop:", err)
		os.Exit(1)
	}
}

// example is the README example: a job, the file posted, the top records printed, the job gone.
func example(ctx context.Context, c *anomalyd.Client, args []string) error {
	flags := flag.NewFlagSet("example", flag.ExitOnError)
	jobID := flags.String("job", "", "the job to create")
	file := flags.String("file", "", "an NDJSON file")
	_ = flags.Parse(args)
	detector := &anomalydv1.Detector{Function: "mean", FieldName: "responsetime", ByFieldName: "airline"}
	if _, err := c.PutJob(ctx, &anomalydv1.PutJobRequest{Job: job(*jobID, detector, "airline")}); err != nil {
		return err
	}
	if _, err := c.OpenJob(ctx, &anomalydv1.OpenJobRequest{JobId: *jobID}); err != nil {
		return err
	}
	if _, err := postFile(ctx, c, *jobID, *file); err != nil {
		return err
	}
	if _, err := c.FlushJob(ctx, &anomalydv1.FlushJobRequest{JobId: *jobID}); err != nil {
		return err
	}
	records, err := c.GetRecords(ctx, &anomalydv1.GetRecordsRequest{
		JobId: *jobID, Sort: "record_score", Desc: proto.Bool(true), Page: &anomalydv1.Page{Size: 10},
	})
	if err != nil {
		return err
	}
	for _, r := range records.GetRecords() {
		printJSON(map[string]any{
			"timestamp":      r.GetTimestamp().AsTime().UnixMilli(),
			"record_score":   r.GetRecordScore(),
			"probability":    r.GetProbability(),
			"function":       r.GetFunction(),
			"by_field_value": r.GetByFieldValue(),
			"actual":         nonNil(r.GetActual()),
			"typical":        nonNil(r.GetTypical()),
		})
	}
	if _, err := c.CloseJob(ctx, &anomalydv1.CloseJobRequest{JobId: *jobID}); err != nil {
		return err
	}
	_, err = c.DeleteJob(ctx, &anomalydv1.DeleteJobRequest{JobId: *jobID})
	return err
}

func putJob(ctx context.Context, c *anomalyd.Client, args []string) error {
	flags := flag.NewFlagSet("put-job", flag.ExitOnError)
	jobID := flags.String("job", "", "the job to create")
	function := flags.String("function", "", "the detector's function")
	field := flags.String("field-name", "", "the detector's field")
	_ = flags.Parse(args)
	detector := &anomalydv1.Detector{Function: *function, FieldName: *field}
	response, err := c.PutJob(ctx, &anomalydv1.PutJobRequest{Job: job(*jobID, detector)})
	if err == nil {
		printJSON(map[string]any{"job_id": response.GetJob().GetJobId()})
	}
	return err
}

func getJobs(ctx context.Context, c *anomalyd.Client, args []string) error {
	flags := flag.NewFlagSet("get-jobs", flag.ExitOnError)
	expression := flags.String("job", "", "a job expression")
	allowNoMatch := flags.String("allow-no-match", "true", "true or false")
	_ = flags.Parse(args)
	allow, err := strconv.ParseBool(*allowNoMatch)
	if err != nil {
		return fmt.Errorf("--allow-no-match: %w", err)
	}
	response, err := c.GetJobs(ctx, &anomalydv1.GetJobsRequest{JobId: *expression, AllowNoMatch: &allow})
	if err != nil {
		return err
	}
	ids := []string{}
	for _, j := range response.GetJobs() {
		ids = append(ids, j.GetJobId())
	}
	printJSON(map[string]any{"job_ids": ids})
	return nil
}

func open(ctx context.Context, c *anomalyd.Client, args []string) error {
	flags := flag.NewFlagSet("open", flag.ExitOnError)
	jobID := flags.String("job", "", "the job to open")
	_ = flags.Parse(args)
	response, err := c.OpenJob(ctx, &anomalydv1.OpenJobRequest{JobId: *jobID})
	if err == nil {
		printJSON(map[string]any{"opened": response.GetOpened()})
	}
	return err
}

// post is one upload of a file; with --hold the stream stays open after its last chunk until
// a line arrives on stdin, so that other clients can try the same job meanwhile.
func post(ctx context.Context, c *anomalyd.Client, args []string) error {
	flags := flag.NewFlagSet("post", flag.ExitOnError)
	jobID := flags.String("job", "", "an open job")
	file := flags.String("file", "", "an NDJSON file")
	hold := flags.Bool("hold", false, "wait for a line on stdin before ending the stream")
	_ = flags.Parse(args)
	if !*hold {
		counts, err := postFile(ctx, c, *jobID, *file)
		if err == nil {
			printCounts(counts)
		}
		return err
	}
	f, err := os.Open(*file)
	if err != nil {
		return err
	}
	defer f.Close()
	upload, err := c.NewUpload(ctx, *jobID)
	if err != nil {
		return err
	}
	if _, err := io.Copy(upload, f); err != nil {
		return err
	}
	if err := upload.Flush(); err != nil {
		return err
	}
	printJSON(map[string]any{"sent": true})
	if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil && err != io.EOF {
		return err
	}
	counts, err := upload.Close()
	if err == nil {
		printCounts(counts)
	}
	return err
}

// bench posts n generated records, made before the clock starts, in one stream.
func bench(ctx context.Context, c *anomalyd.Client, args []string) error {
	flags := flag.NewFlagSet("bench", flag.ExitOnError)
	jobID := flags.String("job", "", "an open job")
	n := flags.Int("records", 1_000_000, "how many records")
	_ = flags.Parse(args)
	var data []byte
	for i := range *n {
		data = fmt.Appendf(data, `{"time": %d, "airline": "A%d", "responsetime": %d}`+"\n", 1_700_000_000+i, i%19, i%997)
	}
	started := time.Now()
	counts, err := c.PostData(ctx, *jobID, bytes.NewReader(data))
	if err != nil {
		return err
	}
	printJSON(map[string]any{
		"records": *n, "seconds": time.Since(started).Seconds(),
		"processed_record_count": counts.GetProcessedRecordCount(),
	})
	return nil
}

// job is the interop tests' job: bucket span 5m, times in the "time" field in epoch seconds.
func job(id string, detector *anomalydv1.Detector, influencers ...string) *anomalydv1.Job {
	return &anomalydv1.Job{
		JobId: id,
		AnalysisConfig: &anomalydv1.AnalysisConfig{
			BucketSpan:  durationpb.New(5 * time.Minute),
			Detectors:   []*anomalydv1.Detector{detector},
			Influencers: influencers,
		},
		DataDescription: &anomalydv1.DataDescription{TimeField: "time", TimeFormat: "epoch"},
	}
}

func postFile(ctx context.Context, c *anomalyd.Client, jobID, path string) (*anomalydv1.DataCounts, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return c.PostData(ctx, jobID, f)
}

func printCounts(counts *anomalydv1.DataCounts) {
	printJSON(map[string]any{"data_counts": map[string]any{
		"processed_record_count":       counts.GetProcessedRecordCount(),
		"input_record_count":           counts.GetInputRecordCount(),
		"invalid_date_count":           counts.GetInvalidDateCount(),
		"out_of_order_timestamp_count": counts.GetOutOfOrderTimestampCount(),
		"input_bytes":                  counts.GetInputBytes(),
	}})
}

func printError(e *anomalyd.Error) {
	violations := [][2]string{}
	for _, v := range e.FieldViolations {
		violations = append(violations, [2]string{v.Field, v.Description})
	}
	printJSON(map[string]any{"error": map[string]any{
		"code":             code.Code(e.Code).String(),
		"reason":           e.Reason,
		"message":          e.Message,
		"metadata":         e.Metadata,
		"field_violations": violations,
	}})
}

func printJSON(value any) {
	line, err := json.Marshal(value)
	if err != nil {
		panic(err) // only maps of plain values are printed
	}
	os.Stdout.Write(append(line, '\n'))
}

func nonNil(values []float64) []float64 {
	if values == nil {
		return []float64{}
	}
	return values
}
