package io.anomalyd.client.interop;

import io.anomalyd.client.AnomalydClient;
import io.anomalyd.client.AnomalydException;
import io.anomalyd.client.ClientOptions;
import io.anomalyd.client.FieldViolation;
import io.anomalyd.client.JobConfig;
import io.anomalyd.client.ProtoTime;
import io.anomalyd.client.UploadListener;
import io.anomalyd.client.UploadOptions;
import io.anomalyd.v1.AnomalyRecord;
import io.anomalyd.v1.DataCounts;
import io.anomalyd.v1.GetRecordsRequest;
import io.anomalyd.v1.Job;
import io.anomalyd.v1.Page;
import java.io.BufferedReader;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The interop driver of clients/INTEROP.md: one command per run against a real server, one
 * JSON object per output line, exit status 3 after a failed call, 2 for a bad command line.
 */
public final class InteropDriver {
  private static final int EXIT_CALL_FAILED = 3;
  private static final int EXIT_USAGE = 2;
  private static final int EXIT_OTHER = 1;
  private static final Duration CALL_TIMEOUT = Duration.ofSeconds(120);

  private final PrintStream out;
  private final Map<String, String> flags;
  private final AnomalydClient client;

  private InteropDriver(PrintStream out, Map<String, String> flags, AnomalydClient client) {
    this.out = out;
    this.flags = flags;
    this.client = client;
  }

  /**
   * Runs one command and exits.
   *
   * @param args options, then the command and its flags (clients/INTEROP.md)
   */
  public static void main(String[] args) {
    System.exit(run(args));
  }

  static int run(String[] args) {
    PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
    Map<String, String> options = new HashMap<>();
    String command = null;
    Map<String, String> flags = new HashMap<>();
    try {
      for (int i = 0; i < args.length; i++) {
        String arg = args[i];
        Map<String, String> into = command == null ? options : flags;
        if (arg.equals("--hold")) {
          into.put(arg, "true");
        } else if (arg.startsWith("--")) {
          if (i + 1 >= args.length) {
            throw new IllegalArgumentException(arg + " needs a value");
          }
          into.put(arg, args[++i]);
        } else if (command == null) {
          command = arg;
        } else {
          throw new IllegalArgumentException("unexpected argument " + arg);
        }
      }
      if (command == null) {
        throw new IllegalArgumentException("no command: example, put-job, get-jobs, open, post or bench");
      }
    } catch (IllegalArgumentException e) {
      System.err.println("interop: " + e.getMessage());
      return EXIT_USAGE;
    }
    try (AnomalydClient client = AnomalydClient.connect(clientOptions(options))) {
      new InteropDriver(out, flags, client).dispatch(command);
      return 0;
    } catch (AnomalydException e) {
      out.println(Json.write(Map.of("error", error(e))));
      return EXIT_CALL_FAILED;
    } catch (IllegalArgumentException e) {
      System.err.println("interop: " + e.getMessage());
      return EXIT_USAGE;
    } catch (RuntimeException e) {
      System.err.println("interop: " + e);
      return EXIT_OTHER;
    }
  }

  private static ClientOptions clientOptions(Map<String, String> options) {
    String target = required(options, "--target");
    ClientOptions.Builder b = ClientOptions.builder(target).timeout(CALL_TIMEOUT);
    if (options.containsKey("--ca")) {
      b.caFile(Path.of(options.get("--ca")));
    }
    if (options.containsKey("--cert") || options.containsKey("--key")) {
      b.clientCertificate(path(options.get("--cert")), path(options.get("--key")));
    }
    if (options.containsKey("--api-key")) {
      b.apiKey(options.get("--api-key"));
    }
    return b.build();
  }

  private void dispatch(String command) {
    switch (command) {
      case "example" -> example(flag("--job"), Path.of(flag("--file")));
      case "put-job" -> putJob();
      case "get-jobs" -> getJobs();
      case "open" -> {
        client.openJob(flag("--job"));
        print(Map.of("opened", true));
      }
      case "post" -> post();
      case "bench" -> bench();
      default -> throw new IllegalArgumentException("unknown command " + command);
    }
  }

  /** The README example: put, open, post, flush, top records, close, delete. */
  private void example(String jobId, Path file) {
    client.putJob(
        JobConfig.builder(jobId)
            .detector("mean", "responsetime")
            .byField("airline")
            .bucketSpan(Duration.ofMinutes(5))
            .influencer("airline")
            .timeField("time")
            .timeFormat("epoch")
            .build());
    client.openJob(jobId);
    client.postData(jobId, file);
    client.flushJob(jobId);
    GetRecordsRequest top =
        GetRecordsRequest.newBuilder()
            .setJobId(jobId)
            .setSort("record_score")
            .setDesc(true)
            .setPage(Page.newBuilder().setSize(10))
            .build();
    for (AnomalyRecord r : client.getRecords(top).getRecordsList()) {
      Map<String, Object> line = new LinkedHashMap<>();
      line.put("timestamp", ProtoTime.epochMillis(r.getTimestamp()));
      line.put("record_score", r.getRecordScore());
      line.put("probability", r.getProbability());
      line.put("function", r.getFunction());
      line.put("by_field_value", r.getByFieldValue());
      line.put("actual", r.getActualList());
      line.put("typical", r.getTypicalList());
      print(line);
    }
    client.closeJob(jobId);
    client.deleteJob(jobId);
  }

  private void putJob() {
    String function = flag("--function");
    String field = flags.getOrDefault("--field-name", "");
    Job job =
        client.putJob(JobConfig.builder(flag("--job")).detector(function, field).bucketSpan(Duration.ofMinutes(5)).build());
    print(Map.of("job_id", job.getJobId()));
  }

  private void getJobs() {
    String allow = flag("--allow-no-match");
    if (!allow.equals("true") && !allow.equals("false")) {
      throw new IllegalArgumentException("--allow-no-match takes true or false");
    }
    List<String> ids = new ArrayList<>();
    for (Job job : client.getJobs(flag("--job"), Boolean.parseBoolean(allow))) {
      ids.add(job.getJobId());
    }
    print(Map.of("job_ids", ids));
  }

  private void post() {
    boolean hold = flags.containsKey("--hold");
    UploadOptions.Builder options = UploadOptions.builder();
    if (hold) {
      options.listener(
          new UploadListener() {
            @Override
            public void onAllSent(long messages, long bytes) {
              print(Map.of("sent", true));
              awaitLine();
            }
          });
    }
    DataCounts counts = client.postData(flag("--job"), Path.of(flag("--file")), options.build());
    Map<String, Object> c = new LinkedHashMap<>();
    c.put("processed_record_count", counts.getProcessedRecordCount());
    c.put("input_record_count", counts.getInputRecordCount());
    c.put("invalid_date_count", counts.getInvalidDateCount());
    c.put("out_of_order_timestamp_count", counts.getOutOfOrderTimestampCount());
    c.put("input_bytes", counts.getInputBytes());
    print(Map.of("data_counts", c));
  }

  private void bench() {
    int records = Integer.parseInt(flag("--records"));
    byte[] data = benchRecords(records);
    long started = System.nanoTime();
    DataCounts counts = client.postData(flag("--job"), new ByteArrayInputStream(data));
    double seconds = (System.nanoTime() - started) / 1e9;
    Map<String, Object> line = new LinkedHashMap<>();
    line.put("records", records);
    line.put("seconds", seconds);
    line.put("processed_record_count", counts.getProcessedRecordCount());
    print(line);
  }

  /** The bench's records as NDJSON, made before the clock starts. */
  static byte[] benchRecords(int n) {
    ByteArrayOutputStream buffer = new ByteArrayOutputStream(n * 64);
    StringBuilder line = new StringBuilder(64);
    for (int i = 0; i < n; i++) {
      line.setLength(0);
      line.append("{\"time\": ").append(1_700_000_000L + i)
          .append(", \"airline\": \"A").append(i % 19)
          .append("\", \"responsetime\": ").append(i % 997).append("}\n");
      byte[] bytes = line.toString().getBytes(StandardCharsets.US_ASCII);
      buffer.write(bytes, 0, bytes.length);
    }
    return buffer.toByteArray();
  }

  private static Map<String, Object> error(AnomalydException e) {
    Map<String, Object> error = new LinkedHashMap<>();
    error.put("code", e.code().name());
    error.put("reason", e.reasonName());
    error.put("message", e.description());
    error.put("metadata", new TreeMap<>(e.metadata()));
    List<Object> violations = new ArrayList<>();
    for (FieldViolation v : e.fieldViolations()) {
      violations.add(List.of(v.field(), v.description()));
    }
    error.put("field_violations", violations);
    return error;
  }

  private void print(Map<String, ?> line) {
    out.println(Json.write(line));
  }

  private static void awaitLine() {
    try {
      new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8)).readLine();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private String flag(String name) {
    return required(flags, name);
  }

  private static String required(Map<String, String> map, String name) {
    String value = map.get(name);
    if (value == null) {
      throw new IllegalArgumentException(name + " is required");
    }
    return value;
  }

  private static Path path(String value) {
    if (value == null) {
      throw new IllegalArgumentException("--cert and --key go together");
    }
    return Path.of(value);
  }
}
