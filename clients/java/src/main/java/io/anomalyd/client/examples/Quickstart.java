package io.anomalyd.client.examples;

import io.anomalyd.client.AnomalydClient;
import io.anomalyd.client.AnomalydException;
import io.anomalyd.client.ClientOptions;
import io.anomalyd.client.ErrorReason;
import io.anomalyd.client.JobConfig;
import io.anomalyd.client.ProtoTime;
import io.anomalyd.v1.AnomalyRecord;
import io.anomalyd.v1.DataCounts;
import java.nio.file.Path;
import java.time.Duration;

/**
 * The README's flow from Java: creates a job, opens it, streams an NDJSON file of airline
 * response times, flushes, prints the top anomaly records, closes and deletes the job.
 *
 * <pre>
 * java -cp "build/classes:build/lib/*" io.anomalyd.client.examples.Quickstart FILE [HOST:PORT]
 * </pre>
 *
 * The file holds one document a line: {@code {"time": 1700000000, "airline": "AAL",
 * "responsetime": 132.2}}. Set ANOMALYD_API_KEY for a server that wants a key.
 */
public final class Quickstart {
  private Quickstart() {}

  /**
   * Runs the example.
   *
   * @param args the NDJSON file, then optionally the server's host:port
   */
  public static void main(String[] args) {
    if (args.length < 1 || args.length > 2) {
      System.err.println("usage: Quickstart FILE [HOST:PORT]");
      System.exit(2);
    }
    Path file = Path.of(args[0]);
    String target = args.length > 1 ? args[1] : ClientOptions.DEFAULT_TARGET;
    ClientOptions options = ClientOptions.builder(target).apiKey(System.getenv("ANOMALYD_API_KEY")).build();
    String jobId = "quickstart";

    try (AnomalydClient client = AnomalydClient.connect(options)) {
      client.putJob(
          JobConfig.builder(jobId)
              .detector("mean", "responsetime").byField("airline")
              .bucketSpan(Duration.ofMinutes(5))
              .influencer("airline")
              .build());
      try {
        client.openJob(jobId);
        DataCounts counts = client.postData(jobId, file);
        System.out.printf("posted %,d records (%,d bytes)%n", counts.getProcessedRecordCount(), counts.getInputBytes());
        client.flushJob(jobId);
        System.out.println("top anomalies:");
        for (AnomalyRecord r : client.getRecords(jobId, 10).getRecordsList()) {
          System.out.printf(
              "  %s  %-6s score %5.1f  actual %8.1f  typical %8.1f%n",
              ProtoTime.instant(r.getTimestamp()),
              r.getByFieldValue(),
              r.getRecordScore(),
              r.getActualCount() > 0 ? r.getActual(0) : Double.NaN,
              r.getTypicalCount() > 0 ? r.getTypical(0) : Double.NaN);
        }
        client.closeJob(jobId);
      } finally {
        client.deleteJob(jobId, true);
      }
    } catch (AnomalydException e) {
      if (e.reason() == ErrorReason.JOB_ALREADY_EXISTS) {
        System.err.println("a job named " + jobId + " exists already; delete it with `anomalyd delete " + jobId + " --force`");
      } else {
        System.err.println(e.getMessage());
      }
      System.exit(1);
    }
  }
}
