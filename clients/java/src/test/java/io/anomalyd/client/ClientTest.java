package io.anomalyd.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.rpc.Code;
import io.anomalyd.v1.ColumnBatch;
import io.anomalyd.v1.DataCounts;
import io.anomalyd.v1.GetJobsRequest;
import io.anomalyd.v1.GetJobsResponse;
import io.anomalyd.v1.Job;
import io.anomalyd.v1.JobServiceGrpc;
import io.anomalyd.v1.PostDataRequest;
import io.anomalyd.v1.PostDataResponse;
import io.anomalyd.v1.PutJobRequest;
import io.anomalyd.v1.PutJobResponse;
import io.anomalyd.v1.ResetJobRequest;
import io.anomalyd.v1.ResetJobResponse;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.Status;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.stub.StreamObserver;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Both clients against an in-process JobService that records what it receives. */
@Timeout(30)
class ClientTest {
  private final FakeJobService service = new FakeJobService();
  private Server server;
  private ManagedChannel channel;

  @BeforeEach
  void start() throws IOException {
    String name = InProcessServerBuilder.generateName();
    server =
        InProcessServerBuilder.forName(name)
            .addService(ServerInterceptors.intercept(service, service.headers()))
            .build()
            .start();
    channel = InProcessChannelBuilder.forName(name).build();
  }

  @AfterEach
  void stop() throws InterruptedException {
    channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
  }

  private AnomalydClient client(String apiKey) {
    return AnomalydClient.forChannel(channel, ClientOptions.builder("in-process").apiKey(apiKey).timeout(Duration.ofSeconds(10)).build());
  }

  private static InputStream lines(int n) {
    StringBuilder text = new StringBuilder();
    for (int i = 0; i < n; i++) {
      text.append("{\"time\": ").append(1_700_000_000 + i).append(", \"v\": ").append(i).append("}\n");
    }
    return new ByteArrayInputStream(text.toString().getBytes(StandardCharsets.UTF_8));
  }

  /** Lines without end, to show an upload stops reading when its stream ends. */
  private static final class Endless extends InputStream {
    private final byte[] line = "{\"time\": 1700000000, \"v\": 1}\n".getBytes(StandardCharsets.UTF_8);
    private long position;

    @Override
    public int read() {
      return line[(int) (position++ % line.length)];
    }

    @Override
    public int read(byte[] b, int off, int len) {
      for (int i = 0; i < len; i++) {
        b[off + i] = (byte) read();
      }
      return len;
    }
  }

  @Test
  void anUploadNamesTheJobInItsFirstMessageAndCutsChunksAtNewlines() {
    try (AnomalydClient client = client(null)) {
      Instant reset = Instant.parse("2023-11-14T22:00:00Z");
      DataCounts counts =
          client.postData(
              "farequote", lines(500), UploadOptions.builder().chunkBytes(1024).resetRange(reset, null).build());
      assertEquals(500, counts.getProcessedRecordCount());
      List<PostDataRequest> got = service.posted;
      assertTrue(got.size() > 10, "small chunks: " + got.size());
      assertEquals("farequote", got.get(0).getJobId());
      assertEquals(reset.getEpochSecond(), got.get(0).getResetStart().getSeconds());
      for (PostDataRequest m : got.subList(1, got.size())) {
        assertEquals("", m.getJobId());
        assertTrue(!m.hasResetStart());
      }
      for (PostDataRequest m : got) {
        assertTrue(m.getData().size() <= 1024);
        assertEquals('\n', m.getData().byteAt(m.getData().size() - 1));
      }
    }
  }

  @Test
  void aResetWaitsUnlessAskedNotTo() {
    try (AnomalydClient client = client(null)) {
      assertTrue(client.resetJob("web").getAcknowledged());
      ResetJobRequest later = ResetJobRequest.newBuilder().setJobId("web").setWaitForCompletion(false).build();
      assertEquals("node:1", client.resetJob(later).getTaskId());
    }
  }

  @Test
  void anEmptySourceStillOpensAndEndsTheStream() {
    try (AnomalydClient client = client(null)) {
      assertEquals(0, client.postData("j", new ByteArrayInputStream(new byte[0])).getProcessedRecordCount());
      assertEquals(1, service.posted.size());
      assertEquals("j", service.posted.get(0).getJobId());
    }
  }

  @Test
  void columnsGoOneBatchAMessage() {
    ColumnBatch batch = Columns.builder(new long[] {1, 2}).numeric("v", new double[] {1, 2}).build();
    try (AnomalydClient client = client(null)) {
      assertEquals(4, client.postColumns("j", List.of(batch, batch)).getProcessedRecordCount());
    }
    assertEquals(2, service.posted.size());
    assertEquals(batch, service.posted.get(1).getColumns());
  }

  @Test
  void theApiKeyTravelsAsAnAuthorizationHeaderWithoutTls() {
    try (AnomalydClient client = client("aWQ6c2VjcmV0")) {
      client.getJobs("_all");
    }
    assertEquals("ApiKey aWQ6c2VjcmV0", service.authorization.get(0));
    try (AnomalydClient client = client(null)) {
      client.getJobs("_all");
    }
    assertEquals("none", service.authorization.get(1));
  }

  @Test
  void aFailedCallThrowsItsCodeReasonAndFieldViolations() {
    try (AnomalydClient client = client(null)) {
      AnomalydException e =
          assertThrows(AnomalydException.class, () -> client.putJob(JobConfig.builder("bad").detector("nope", "x").build()));
      assertEquals(Status.Code.INVALID_ARGUMENT, e.code());
      assertEquals(ErrorReason.INVALID_JOB_CONFIG, e.reason());
      assertEquals("analysis_config.detectors[0].function", e.fieldViolations().get(0).field());
      assertEquals(Map.of("jobId", "bad"), e.metadata());
    }
  }

  @Test
  void aStreamTheServerEndsStopsTheUploadWithTheServersReason() {
    try (AnomalydClient client = client(null)) {
      AnomalydException e = assertThrows(AnomalydException.class, () -> client.postData("busy", new Endless()));
      assertEquals(ErrorReason.DATA_STREAM_ACTIVE, e.reason());
    }
  }

  @Test
  void aSourceThatFailsCancelsTheStreamAndThrowsItsError() throws InterruptedException {
    InputStream failing =
        new InputStream() {
          private int calls;

          @Override
          public int read() {
            return '\n';
          }

          @Override
          public int read(byte[] b, int off, int len) throws IOException {
            if (++calls > 3) {
              throw new IOException("disk on fire");
            }
            b[off] = '\n';
            return 1;
          }
        };
    try (AnomalydClient client = client(null)) {
      UncheckedIOException e =
          assertThrows(
              UncheckedIOException.class, () -> client.postData("j", failing, UploadOptions.builder().chunkBytes(1).build()));
      assertEquals("disk on fire", e.getCause().getMessage());
    }
    assertTrue(service.cancelled.await(5, TimeUnit.SECONDS), "the server saw the stream cancelled");
  }

  @Test
  void everyMessageIsSentBeforeTheListenerHearsAllSentAndTheStreamEndsAfterIt() {
    AtomicBoolean endedEarly = new AtomicBoolean();
    UploadListener listener =
        new UploadListener() {
          @Override
          public void onAllSent(long messages, long bytes) {
            endedEarly.set(service.completed.getCount() == 0);
          }
        };
    try (AnomalydClient client = client(null)) {
      client.postData("j", lines(100), UploadOptions.builder().chunkBytes(256).listener(listener).build());
    }
    assertTrue(!endedEarly.get());
  }

  @Test
  void theAsyncClientCompletesWithResponsesAndFailures() {
    ClientOptions options = ClientOptions.builder("in-process").timeout(Duration.ofSeconds(10)).build();
    try (AnomalydAsyncClient client = AnomalydAsyncClient.forChannel(channel, options)) {
      Job job = client.putJob(JobConfig.builder("ok").detector("count").build()).join();
      assertEquals("ok", job.getJobId());
      assertEquals(300, client.postData("j", lines(300)).join().getProcessedRecordCount());
      CompletionException missing =
          assertThrows(CompletionException.class, () -> client.postData("j", Path.of("/no/such/file.ndjson")).join());
      assertInstanceOf(UncheckedIOException.class, missing.getCause());
      CompletionException failed =
          assertThrows(
              CompletionException.class,
              () -> client.putJob(JobConfig.builder("bad").detector("nope", "x").build()).join());
      assertEquals(ErrorReason.INVALID_JOB_CONFIG, assertInstanceOf(AnomalydException.class, failed.getCause()).reason());
    }
  }

  @Test
  void cancellingAnAsyncUploadCancelsItsStream() throws InterruptedException {
    ClientOptions options = ClientOptions.builder("in-process").build();
    try (AnomalydAsyncClient client = AnomalydAsyncClient.forChannel(channel, options)) {
      CompletableFuture<DataCounts> upload = client.postData("slow", new Endless(), UploadOptions.defaults());
      assertTrue(service.firstMessage.await(5, TimeUnit.SECONDS));
      upload.cancel(true);
      assertTrue(service.cancelled.await(5, TimeUnit.SECONDS), "the server saw the stream cancelled");
    }
  }

  /** A JobService that records uploads and headers and fails on cue. */
  static final class FakeJobService extends JobServiceGrpc.JobServiceImplBase {
    final List<PostDataRequest> posted = new CopyOnWriteArrayList<>();
    final List<String> authorization = new CopyOnWriteArrayList<>();
    final CountDownLatch cancelled = new CountDownLatch(1);
    final CountDownLatch completed = new CountDownLatch(1);
    final CountDownLatch firstMessage = new CountDownLatch(1);
    private volatile String lastHeader = "none";

    ServerInterceptor headers() {
      return new ServerInterceptor() {
        @Override
        public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
          String value = headers.get(ApiKeyCredentials.AUTHORIZATION);
          lastHeader = value == null ? "none" : value;
          return next.startCall(call, headers);
        }
      };
    }

    @Override
    public void putJob(PutJobRequest request, StreamObserver<PutJobResponse> responses) {
      Job job = request.getJob();
      if (job.getAnalysisConfig().getDetectors(0).getFunction().equals("nope")) {
        com.google.rpc.BadRequest bad =
            com.google.rpc.BadRequest.newBuilder()
                .addFieldViolations(
                    com.google.rpc.BadRequest.FieldViolation.newBuilder()
                        .setField("analysis_config.detectors[0].function")
                        .setDescription("unknown function 'nope'"))
                .build();
        responses.onError(
            AnomalydExceptionTest.rich(Code.INVALID_ARGUMENT, "INVALID_JOB_CONFIG", "bad", Map.of("jobId", job.getJobId()), bad));
        return;
      }
      responses.onNext(PutJobResponse.newBuilder().setJob(job).build());
      responses.onCompleted();
    }

    @Override
    public void resetJob(ResetJobRequest request, StreamObserver<ResetJobResponse> responses) {
      boolean waited = !request.hasWaitForCompletion() || request.getWaitForCompletion();
      responses.onNext(ResetJobResponse.newBuilder().setAcknowledged(waited).setTaskId(waited ? "" : "node:1").build());
      responses.onCompleted();
    }

    @Override
    public void getJobs(GetJobsRequest request, StreamObserver<GetJobsResponse> responses) {
      authorization.add(lastHeader);
      responses.onNext(GetJobsResponse.getDefaultInstance());
      responses.onCompleted();
    }

    @Override
    public StreamObserver<PostDataRequest> postData(StreamObserver<PostDataResponse> responses) {
      return new StreamObserver<>() {
        private String jobId;
        private long records;
        private boolean failed;

        @Override
        public void onNext(PostDataRequest m) {
          if (failed) {
            return;
          }
          if (jobId == null) {
            jobId = m.getJobId();
            firstMessage.countDown();
          }
          posted.add(m);
          for (int i = 0; i < m.getData().size(); i++) {
            records += m.getData().byteAt(i) == '\n' ? 1 : 0;
          }
          records += m.getColumns().getTimesCount();
          if (jobId.equals("busy")) {
            failed = true;
            responses.onError(AnomalydExceptionTest.rich(Code.ABORTED, "DATA_STREAM_ACTIVE", "busy", Map.of("jobId", jobId), null));
          }
        }

        @Override
        public void onError(Throwable t) {
          cancelled.countDown();
        }

        @Override
        public void onCompleted() {
          completed.countDown();
          if (!failed) {
            responses.onNext(
                PostDataResponse.newBuilder().setDataCounts(DataCounts.newBuilder().setJobId(jobId).setProcessedRecordCount(records)).build());
            responses.onCompleted();
          }
        }
      };
    }
  }
}
