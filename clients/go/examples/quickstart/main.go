// Command quickstart walks a job through its life with the Go client: it creates a job, opens
// it, streams an NDJSON file of airline response times into it, flushes, prints the top anomaly
// records, then closes and deletes the job.
//
//	go run ./examples/quickstart -target 127.0.0.1:50051 -file airlines.ndjson
//
// ANOMALYD_API_KEY and ANOMALYD_TLS_CA, as the anomalyd CLI reads them, add an API key and TLS.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"time"

	"github.com/anomalyd/anomalyd/clients/go/anomalyd"
	anomalydv1 "github.com/anomalyd/anomalyd/clients/go/gen/anomalyd/v1"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
)

func main() {
	target := flag.String("target", "127.0.0.1:50051", "the server's host:port")
	file := flag.String("file", "airlines.ndjson", "NDJSON records with time (epoch s), airline and responsetime")
	jobID := flag.String("job", "quickstart", "the job to create (and delete at the end)")
	flag.Parse()

	var options []anomalyd.Option
	if key := os.Getenv("ANOMALYD_API_KEY"); key != "" {
		options = append(options, anomalyd.WithAPIKey(key))
	}
	if ca := os.Getenv("ANOMALYD_TLS_CA"); ca != "" {
		options = append(options, anomalyd.WithCAFile(ca))
	}
	client, err := anomalyd.NewClient(*target, options...)
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, client, *jobID, *file); err != nil {
		log.Fatal(err) // an *anomalyd.Error prints as "anomalyd: CODE REASON: message"
	}
}

func run(ctx context.Context, c *anomalyd.Client, jobID, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = c.PutJob(ctx, &anomalydv1.PutJobRequest{Job: &anomalydv1.Job{
		JobId: jobID,
		AnalysisConfig: &anomalydv1.AnalysisConfig{
			BucketSpan:  durationpb.New(5 * time.Minute),
			Detectors:   []*anomalydv1.Detector{{Function: "mean", FieldName: "responsetime", ByFieldName: "airline"}},
			Influencers: []string{"airline"},
		},
		DataDescription: &anomalydv1.DataDescription{TimeField: "time", TimeFormat: "epoch"},
	}})
	if anomalyd.ReasonOf(err) == anomalyd.ReasonJobAlreadyExists {
		return fmt.Errorf("%w (delete it with: anomalyd delete %s --force)", err, jobID)
	} else if err != nil {
		return err
	}
	if _, err := c.OpenJob(ctx, &anomalydv1.OpenJobRequest{JobId: jobID}); err != nil {
		return err
	}

	counts, err := c.PostData(ctx, jobID, f) // in messages of about 1 MiB, cut after newlines
	if err != nil {
		return err
	}
	fmt.Printf("posted %d records (%d bytes), %d out of order, %d without a valid time\n",
		counts.GetProcessedRecordCount(), counts.GetInputBytes(),
		counts.GetOutOfOrderTimestampCount(), counts.GetInvalidDateCount())
	if _, err := c.FlushJob(ctx, &anomalydv1.FlushJobRequest{JobId: jobID}); err != nil {
		return err
	}

	top, err := c.GetRecords(ctx, &anomalydv1.GetRecordsRequest{
		JobId: jobID, Sort: "record_score", Desc: proto.Bool(true), Page: &anomalydv1.Page{Size: 10},
	})
	if err != nil {
		return err
	}
	fmt.Printf("top %d of %d anomaly records:\n", len(top.GetRecords()), top.GetCount())
	for _, r := range top.GetRecords() {
		fmt.Printf("  %s  %-4s score %5.1f  actual %8.1f  typical %8.1f\n",
			r.GetTimestamp().AsTime().Format(time.RFC3339), r.GetByFieldValue(), r.GetRecordScore(),
			first(r.GetActual()), first(r.GetTypical()))
	}

	if _, err := c.CloseJob(ctx, &anomalydv1.CloseJobRequest{JobId: jobID}); err != nil {
		return err
	}
	_, err = c.DeleteJob(ctx, &anomalydv1.DeleteJobRequest{JobId: jobID})
	return err
}

func first(values []float64) float64 {
	if len(values) == 0 {
		return 0
	}
	return values[0]
}
