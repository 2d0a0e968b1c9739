package io.anomalyd.client;

import io.anomalyd.v1.CloseJobRequest;
import io.anomalyd.v1.CloseJobResponse;
import io.anomalyd.v1.ColumnBatch;
import io.anomalyd.v1.DataCounts;
import io.anomalyd.v1.DeleteJobRequest;
import io.anomalyd.v1.DeleteJobResponse;
import io.anomalyd.v1.FlushJobRequest;
import io.anomalyd.v1.FlushJobResponse;
import io.anomalyd.v1.GetBucketsRequest;
import io.anomalyd.v1.GetBucketsResponse;
import io.anomalyd.v1.GetInfluencersRequest;
import io.anomalyd.v1.GetInfluencersResponse;
import io.anomalyd.v1.GetJobStatsResponse;
import io.anomalyd.v1.GetJobsResponse;
import io.anomalyd.v1.GetOverallBucketsRequest;
import io.anomalyd.v1.GetOverallBucketsResponse;
import io.anomalyd.v1.GetRecordsRequest;
import io.anomalyd.v1.GetRecordsResponse;
import io.anomalyd.v1.GetTaskResponse;
import io.anomalyd.v1.Job;
import io.anomalyd.v1.JobServiceGrpc;
import io.anomalyd.v1.JobStats;
import io.anomalyd.v1.OpenJobRequest;
import io.anomalyd.v1.OpenJobResponse;
import io.anomalyd.v1.PutJobResponse;
import io.anomalyd.v1.ResetJobRequest;
import io.anomalyd.v1.ResetJobResponse;
import io.anomalyd.v1.ResultsServiceGrpc;
import io.anomalyd.v1.Task;
import io.anomalyd.v1.UpdateJobRequest;
import io.anomalyd.v1.UpdateJobResponse;
import io.grpc.Channel;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.RejectedExecutionException;
import java.util.function.UnaryOperator;

/**
 * An asynchronous client of anomalyd: the methods of {@link AnomalydClient}, each returning at
 * once a {@link CompletableFuture} that completes with the response or, exceptionally, with an
 * {@link AnomalydException} ({@code join()} wraps it in a {@code CompletionException}).
 * Cancelling a future cancels its call. Thread-safe.
 *
 * <pre>{@code
 * try (AnomalydAsyncClient client = AnomalydAsyncClient.connect(ClientOptions.of("127.0.0.1:50051"))) {
 *   client.openJob("farequote")
 *       .thenCompose(opened -> client.postData("farequote", Path.of("farequote.ndjson")))
 *       .thenAccept(counts -> System.out.println(counts.getProcessedRecordCount()))
 *       .join();
 * }
 * }</pre>
 *
 * Unary calls never block a thread. An upload reads its source, which may block, on the
 * executor of {@link ClientOptions.Builder#executor} or on a daemon thread of the client's
 * own, one per upload in progress.
 */
public final class AnomalydAsyncClient implements AutoCloseable {
  private final Connection connection;
  private final Executor executor;
  private final ExecutorService ownedExecutor;

  private AnomalydAsyncClient(Connection connection, ClientOptions options) {
    this.connection = connection;
    if (options.executor().isPresent()) {
      this.executor = options.executor().get();
      this.ownedExecutor = null;
    } else {
      AtomicInteger count = new AtomicInteger();
      this.ownedExecutor =
          Executors.newCachedThreadPool(
              task -> {
                Thread thread = new Thread(task, "anomalyd-upload-" + count.incrementAndGet());
                thread.setDaemon(true);
                return thread;
              });
      this.executor = ownedExecutor;
    }
  }

  /**
   * Connects to a server over plaintext, without a key.
   *
   * @param target {@code host:port}
   * @return a client that owns its channel
   */
  public static AnomalydAsyncClient connect(String target) {
    return connect(ClientOptions.of(target));
  }

  /**
   * Connects as the options say. The channel connects lazily, at the first call.
   *
   * @param options target, TLS, API key, deadline, upload executor
   * @return a client that owns its channel
   * @throws UncheckedIOException if a TLS file cannot be read
   */
  public static AnomalydAsyncClient connect(ClientOptions options) {
    return new AnomalydAsyncClient(Connection.open(options), options);
  }

  /**
   * A client over a channel the caller made and closes, using only the API key, deadline and
   * executor of the options.
   *
   * @param channel the channel
   * @param options the API key, deadline and executor
   * @return a client whose close leaves the channel open
   */
  public static AnomalydAsyncClient forChannel(Channel channel, ClientOptions options) {
    return new AnomalydAsyncClient(Connection.over(channel, options), options);
  }

  /**
   * Creates a job, closed; see {@link AnomalydClient#putJob}.
   *
   * @param config the job
   * @return the job as stored
   */
  public CompletableFuture<Job> putJob(JobConfig config) {
    return connection.async(JobServiceGrpc.getPutJobMethod(), Requests.putJob(config), null).thenApply(PutJobResponse::getJob);
  }

  /**
   * The configurations of the jobs matching an expression.
   *
   * @param expression an id, a group, a comma-separated list, a wildcard, "_all" or "" (all)
   * @return the jobs, ordered by id
   */
  public CompletableFuture<List<Job>> getJobs(String expression) {
    return connection
        .async(JobServiceGrpc.getGetJobsMethod(), Requests.getJobs(expression, null), null)
        .thenApply(GetJobsResponse::getJobsList);
  }

  /**
   * The configurations of the jobs matching an expression.
   *
   * @param expression an id, a group, a comma-separated list, a wildcard, "_all" or "" (all)
   * @param allowNoMatch whether matching nothing, or only part, is fine
   * @return the jobs, ordered by id
   */
  public CompletableFuture<List<Job>> getJobs(String expression, boolean allowNoMatch) {
    return connection
        .async(JobServiceGrpc.getGetJobsMethod(), Requests.getJobs(expression, allowNoMatch), null)
        .thenApply(GetJobsResponse::getJobsList);
  }

  /**
   * State, lifetime data counts and model size of the jobs matching an expression.
   *
   * @param expression an id, a group, a comma-separated list, a wildcard, "_all" or "" (all)
   * @return the stats, ordered by id
   */
  public CompletableFuture<List<JobStats>> getJobStats(String expression) {
    return connection
        .async(JobServiceGrpc.getGetJobStatsMethod(), Requests.getJobStats(expression, null), null)
        .thenApply(GetJobStatsResponse::getJobsList);
  }

  /**
   * State, lifetime data counts and model size of the jobs matching an expression.
   *
   * @param expression an id, a group, a comma-separated list, a wildcard, "_all" or "" (all)
   * @param allowNoMatch whether matching nothing, or only part, is fine
   * @return the stats, ordered by id
   */
  public CompletableFuture<List<JobStats>> getJobStats(String expression, boolean allowNoMatch) {
    return connection
        .async(JobServiceGrpc.getGetJobStatsMethod(), Requests.getJobStats(expression, allowNoMatch), null)
        .thenApply(GetJobStatsResponse::getJobsList);
  }

  /**
   * Opens a job; see {@link AnomalydClient#openJob(String)}.
   *
   * @param jobId the job
   * @return whether it opened, and on which node
   */
  public CompletableFuture<OpenJobResponse> openJob(String jobId) {
    return openJob(Requests.openJob(Requests.jobId(jobId), null));
  }

  /**
   * Opens a job, the server waiting up to {@code timeout}.
   *
   * @param jobId the job
   * @param timeout how long the server waits for the job to open
   * @return whether it opened, and on which node
   */
  public CompletableFuture<OpenJobResponse> openJob(String jobId, Duration timeout) {
    return openJob(Requests.openJob(Requests.jobId(jobId), timeout));
  }

  /**
   * Opens a job.
   *
   * @param request the request
   * @return whether it opened, and on which node
   */
  public CompletableFuture<OpenJobResponse> openJob(OpenJobRequest request) {
    return connection.async(JobServiceGrpc.getOpenJobMethod(), request, Requests.wait(request));
  }

  /**
   * Streams JSON documents into an open job in messages of about 1 MiB cut at newlines.
   *
   * @param jobId the job, which must be open
   * @param ndjson the documents; read to its end on the upload executor, not closed
   * @return the counts of this upload
   */
  public CompletableFuture<DataCounts> postData(String jobId, InputStream ndjson) {
    return postData(jobId, ndjson, UploadOptions.defaults());
  }

  /**
   * Streams JSON documents into an open job in messages of about 1 MiB cut at newlines; see
   * {@link AnomalydClient#postData(String, InputStream)}. The stream is read on the upload
   * executor; a source that fails completes the future with an {@link UncheckedIOException}.
   *
   * @param jobId the job, which must be open
   * @param ndjson the documents; read to its end, not closed
   * @param options message size, a reset range, a listener
   * @return the counts of this upload
   */
  public CompletableFuture<DataCounts> postData(String jobId, InputStream ndjson, UploadOptions options) {
    Requests.jobId(jobId);
    return upload(
        register -> {
          var chunks = new NdjsonChunker(ndjson, options.chunkBytes());
          return register.apply(new Upload(connection, jobId, Upload.ndjson(chunks), options)).run();
        });
  }

  /**
   * Streams a file of JSON documents into an open job.
   *
   * @param jobId the job, which must be open
   * @param file the file, opened and closed on the upload executor
   * @return the counts of this upload; a file that cannot be read completes it with an {@link
   *     UncheckedIOException}
   */
  public CompletableFuture<DataCounts> postData(String jobId, Path file) {
    return postData(jobId, file, UploadOptions.defaults());
  }

  /**
   * Streams a file of JSON documents into an open job.
   *
   * @param jobId the job, which must be open
   * @param file the file, opened and closed on the upload executor
   * @param options message size, a reset range, a listener
   * @return the counts of this upload; a file that cannot be read completes it with an {@link
   *     UncheckedIOException}
   */
  public CompletableFuture<DataCounts> postData(String jobId, Path file, UploadOptions options) {
    Requests.jobId(jobId);
    return upload(
        register -> {
          try (InputStream in = Files.newInputStream(file)) {
            var chunks = new NdjsonChunker(in, options.chunkBytes());
            return register.apply(new Upload(connection, jobId, Upload.ndjson(chunks), options)).run();
          } catch (IOException e) {
            throw new UncheckedIOException(e);
          }
        });
  }

  /**
   * Streams column batches into an open job, one message per batch.
   *
   * @param jobId the job, which must be open
   * @param batches the batches, built with {@link Columns}; iterated on the upload executor
   * @return the counts of this upload
   */
  public CompletableFuture<DataCounts> postColumns(String jobId, Iterable<ColumnBatch> batches) {
    return postColumns(jobId, batches, UploadOptions.defaults());
  }

  /**
   * Streams column batches into an open job, one message per batch.
   *
   * @param jobId the job, which must be open
   * @param batches the batches, built with {@link Columns}; iterated on the upload executor
   * @param options a reset range, a listener
   * @return the counts of this upload
   */
  public CompletableFuture<DataCounts> postColumns(String jobId, Iterable<ColumnBatch> batches, UploadOptions options) {
    Requests.jobId(jobId);
    return upload(register -> register.apply(new Upload(connection, jobId, Upload.columns(batches.iterator()), options)).run());
  }

  /**
   * Processes the data received so far.
   *
   * @param jobId the job, which must be open
   * @return whether it flushed, and the end of the last finalised bucket
   */
  public CompletableFuture<FlushJobResponse> flushJob(String jobId) {
    return flushJob(Requests.flushJob(Requests.jobId(jobId)));
  }

  /**
   * Flushes with interim results, advance_time or skip_time.
   *
   * @param request the request
   * @return whether it flushed, and the end of the last finalised bucket
   */
  public CompletableFuture<FlushJobResponse> flushJob(FlushJobRequest request) {
    return connection.async(JobServiceGrpc.getFlushJobMethod(), request, null);
  }

  /**
   * Closes the jobs matching an expression gracefully.
   *
   * @param expression an id, a group, a comma-separated list, a wildcard, "_all" or "*"
   * @return whether they closed, and which
   */
  public CompletableFuture<CloseJobResponse> closeJob(String expression) {
    return closeJob(Requests.closeJob(expression, false));
  }

  /**
   * Closes the jobs matching an expression.
   *
   * @param expression an id, a group, a comma-separated list, a wildcard, "_all" or "*"
   * @param force close without finalising or persisting, aborting any active stream
   * @return whether they closed, and which
   */
  public CompletableFuture<CloseJobResponse> closeJob(String expression, boolean force) {
    return closeJob(Requests.closeJob(expression, force));
  }

  /**
   * Closes jobs.
   *
   * @param request the request; its timeout stretches the call's deadline
   * @return whether they closed, and which
   */
  public CompletableFuture<CloseJobResponse> closeJob(CloseJobRequest request) {
    return connection.async(JobServiceGrpc.getCloseJobMethod(), request, Requests.wait(request));
  }

  /**
   * Deletes a closed job, waiting for the deletion.
   *
   * @param jobId the job
   * @return the acknowledgement
   */
  public CompletableFuture<DeleteJobResponse> deleteJob(String jobId) {
    return deleteJob(Requests.deleteJob(Requests.jobId(jobId), false));
  }

  /**
   * Deletes a job, with force an open one.
   *
   * @param jobId the job
   * @param force force-close an open job first
   * @return the acknowledgement
   */
  public CompletableFuture<DeleteJobResponse> deleteJob(String jobId, boolean force) {
    return deleteJob(Requests.deleteJob(Requests.jobId(jobId), force));
  }

  /**
   * Deletes a job.
   *
   * @param request the request
   * @return the acknowledgement or the task id
   */
  public CompletableFuture<DeleteJobResponse> deleteJob(DeleteJobRequest request) {
    return connection.async(JobServiceGrpc.getDeleteJobMethod(), request, null);
  }

  /**
   * Changes a job's updatable settings: the fields of the request's job that its update_mask
   * names.
   *
   * @param request the job's id and new values, and the mask
   * @return the job as stored after the update
   */
  public CompletableFuture<Job> updateJob(UpdateJobRequest request) {
    return connection.async(JobServiceGrpc.getUpdateJobMethod(), request, null).thenApply(UpdateJobResponse::getJob);
  }

  /**
   * Resets a closed job to how it was created, waiting until it is done.
   *
   * @param jobId the job
   * @return the acknowledgement
   */
  public CompletableFuture<ResetJobResponse> resetJob(String jobId) {
    return resetJob(ResetJobRequest.newBuilder().setJobId(Requests.jobId(jobId)).build());
  }

  /**
   * Resets a closed job; with wait_for_completion false, the task id for {@link #getTask}.
   *
   * @param request the request
   * @return the acknowledgement or the task id
   */
  public CompletableFuture<ResetJobResponse> resetJob(ResetJobRequest request) {
    return connection.async(JobServiceGrpc.getResetJobMethod(), request, null);
  }

  /**
   * A task started by a call that did not wait for completion.
   *
   * @param taskId the task
   * @return the task
   */
  public CompletableFuture<Task> getTask(String taskId) {
    return connection.async(JobServiceGrpc.getGetTaskMethod(), Requests.getTask(taskId), null).thenApply(GetTaskResponse::getTask);
  }

  /**
   * The first page (100) of a job's buckets, oldest first.
   *
   * @param jobId the job
   * @return the buckets and how many match over all pages
   */
  public CompletableFuture<GetBucketsResponse> getBuckets(String jobId) {
    return getBuckets(Requests.getBuckets(Requests.jobId(jobId)));
  }

  /**
   * A page of a job's buckets.
   *
   * @param request the request
   * @return the buckets and how many match over all pages
   */
  public CompletableFuture<GetBucketsResponse> getBuckets(GetBucketsRequest request) {
    return connection.async(ResultsServiceGrpc.getGetBucketsMethod(), request, null);
  }

  /**
   * A job's top anomaly records, highest record_score first.
   *
   * @param jobId the job
   * @param size how many; 0 for the server's default of 100
   * @return the records and how many match over all pages
   */
  public CompletableFuture<GetRecordsResponse> getRecords(String jobId, int size) {
    return getRecords(Requests.getRecords(Requests.jobId(jobId), size));
  }

  /**
   * A page of a job's anomaly records.
   *
   * @param request the request
   * @return the records and how many match over all pages
   */
  public CompletableFuture<GetRecordsResponse> getRecords(GetRecordsRequest request) {
    return connection.async(ResultsServiceGrpc.getGetRecordsMethod(), request, null);
  }

  /**
   * A job's top influencers, highest influencer_score first.
   *
   * @param jobId the job
   * @param size how many; 0 for the server's default of 100
   * @return the influencers and how many match over all pages
   */
  public CompletableFuture<GetInfluencersResponse> getInfluencers(String jobId, int size) {
    return getInfluencers(Requests.getInfluencers(Requests.jobId(jobId), size));
  }

  /**
   * A page of a job's influencers.
   *
   * @param request the request
   * @return the influencers and how many match over all pages
   */
  public CompletableFuture<GetInfluencersResponse> getInfluencers(GetInfluencersRequest request) {
    return connection.async(ResultsServiceGrpc.getGetInfluencersMethod(), request, null);
  }

  /**
   * Bucket scores combined over the jobs matching an expression, oldest first.
   *
   * @param expression an id, a group, a comma-separated list, a wildcard, "_all" or "" (all)
   * @param topN how many of the jobs' highest bucket scores to average
   * @return the overall buckets
   */
  public CompletableFuture<GetOverallBucketsResponse> getOverallBuckets(String expression, int topN) {
    return getOverallBuckets(Requests.getOverallBuckets(expression, topN));
  }

  /**
   * Overall buckets of the jobs matching an expression.
   *
   * @param request the request
   * @return the overall buckets
   */
  public CompletableFuture<GetOverallBucketsResponse> getOverallBuckets(GetOverallBucketsRequest request) {
    return connection.async(ResultsServiceGrpc.getGetOverallBucketsMethod(), request, null);
  }

  /**
   * Closes the channel if the client owns it (waiting up to 5 s for calls in flight) and stops
   * the client's own upload threads; an upload in progress is cancelled.
   */
  @Override
  public void close() {
    connection.close();
    if (ownedExecutor != null) {
      ownedExecutor.shutdownNow();
    }
  }

  /** The body of an upload, which registers its Upload so that a cancelled future cancels it. */
  private interface UploadBody {
    DataCounts run(UnaryOperator<Upload> register);
  }

  /** Runs an upload on the executor; cancelling the future cancels the stream. */
  private CompletableFuture<DataCounts> upload(UploadBody body) {
    CompletableFuture<DataCounts> future = new CompletableFuture<>();
    UnaryOperator<Upload> register =
        upload -> {
          future.whenComplete(
              (counts, error) -> {
                if (future.isCancelled()) {
                  upload.cancel();
                }
              });
          return upload;
        };
    try {
      executor.execute(
          () -> {
            if (future.isDone()) {
              return;
            }
            try {
              future.complete(body.run(register));
            } catch (RuntimeException | Error e) {
              future.completeExceptionally(e);
            }
          });
    } catch (RejectedExecutionException e) {
      future.completeExceptionally(e);
    }
    return future;
  }
}
