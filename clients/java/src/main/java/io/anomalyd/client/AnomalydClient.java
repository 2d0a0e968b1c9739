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
import io.anomalyd.v1.GetOverallBucketsRequest;
import io.anomalyd.v1.GetOverallBucketsResponse;
import io.anomalyd.v1.GetRecordsRequest;
import io.anomalyd.v1.GetRecordsResponse;
import io.anomalyd.v1.Job;
import io.anomalyd.v1.JobServiceGrpc;
import io.anomalyd.v1.JobStats;
import io.anomalyd.v1.OpenJobRequest;
import io.anomalyd.v1.OpenJobResponse;
import io.anomalyd.v1.ResetJobRequest;
import io.anomalyd.v1.ResetJobResponse;
import io.anomalyd.v1.ResultsServiceGrpc;
import io.anomalyd.v1.Task;
import io.anomalyd.v1.UpdateJobRequest;
import io.grpc.Channel;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * A blocking client of anomalyd's JobService and ResultsService. Every method waits for its
 * call; every failed call throws {@link AnomalydException}. Thread-safe: share one client.
 *
 * <pre>{@code
 * try (AnomalydClient client = AnomalydClient.connect("127.0.0.1:50051")) {
 *   client.putJob(JobConfig.builder("farequote").detector("mean(responsetime) by airline").build());
 *   client.openJob("farequote");
 *   DataCounts counts = client.postData("farequote", Path.of("farequote.ndjson"));
 *   client.flushJob("farequote");
 *   client.getRecords("farequote", 10).getRecordsList().forEach(System.out::println);
 *   client.closeJob("farequote");
 * }
 * }</pre>
 *
 * Responses are the contract's messages ({@code io.anomalyd.v1}). Requests with more options
 * than a short form takes are built as messages: {@code
 * client.getRecords(GetRecordsRequest.newBuilder().setJobId(id).setRecordScore(75).build())}.
 */
public final class AnomalydClient implements AutoCloseable {
  private final Connection connection;

  private AnomalydClient(Connection connection) {
    this.connection = connection;
  }

  /**
   * Connects to a server over plaintext, without a key.
   *
   * @param target {@code host:port}
   * @return a client that owns its channel
   */
  public static AnomalydClient connect(String target) {
    return connect(ClientOptions.of(target));
  }

  /**
   * Connects as the options say. The channel connects lazily, at the first call.
   *
   * @param options target, TLS, API key, deadline
   * @return a client that owns its channel
   * @throws UncheckedIOException if a TLS file cannot be read
   */
  public static AnomalydClient connect(ClientOptions options) {
    return new AnomalydClient(Connection.open(options));
  }

  /**
   * A client over a channel the caller made and closes, using only the API key and deadline of
   * the options (the channel has its own target and TLS).
   *
   * @param channel the channel
   * @param options the API key and deadline
   * @return a client whose close leaves the channel open
   */
  public static AnomalydClient forChannel(Channel channel, ClientOptions options) {
    return new AnomalydClient(Connection.over(channel, options));
  }

  /**
   * Creates a job, closed.
   *
   * @param config the job
   * @return the job as stored, with defaults filled in
   * @throws AnomalydException INVALID_JOB_CONFIG (see {@link AnomalydException#fieldViolations()})
   *     or JOB_ALREADY_EXISTS
   */
  public Job putJob(JobConfig config) {
    return connection.blocking(JobServiceGrpc.getPutJobMethod(), Requests.putJob(config), null).getJob();
  }

  /**
   * The configurations of the jobs matching an expression.
   *
   * @param expression an id, a group, a comma-separated list, a wildcard, "_all" or "" (all)
   * @return the jobs, ordered by id
   */
  public List<Job> getJobs(String expression) {
    return connection.blocking(JobServiceGrpc.getGetJobsMethod(), Requests.getJobs(expression, null), null).getJobsList();
  }

  /**
   * The configurations of the jobs matching an expression.
   *
   * @param expression an id, a group, a comma-separated list, a wildcard, "_all" or "" (all)
   * @param allowNoMatch whether matching nothing, or only part, is fine
   * @return the jobs, ordered by id
   * @throws AnomalydException JOB_NOT_FOUND when allowNoMatch is false and a part matches nothing
   */
  public List<Job> getJobs(String expression, boolean allowNoMatch) {
    return connection
        .blocking(JobServiceGrpc.getGetJobsMethod(), Requests.getJobs(expression, allowNoMatch), null)
        .getJobsList();
  }

  /**
   * State, lifetime data counts and model size of the jobs matching an expression.
   *
   * @param expression as for {@link #getJobs(String)}
   * @return the stats, ordered by id
   */
  public List<JobStats> getJobStats(String expression) {
    return connection
        .blocking(JobServiceGrpc.getGetJobStatsMethod(), Requests.getJobStats(expression, null), null)
        .getJobsList();
  }

  /**
   * State, lifetime data counts and model size of the jobs matching an expression.
   *
   * @param expression as for {@link #getJobs(String)}
   * @param allowNoMatch whether matching nothing, or only part, is fine
   * @return the stats, ordered by id
   * @throws AnomalydException JOB_NOT_FOUND when allowNoMatch is false and a part matches nothing
   */
  public List<JobStats> getJobStats(String expression, boolean allowNoMatch) {
    return connection
        .blocking(JobServiceGrpc.getGetJobStatsMethod(), Requests.getJobStats(expression, allowNoMatch), null)
        .getJobsList();
  }

  /**
   * Opens a job so that it takes data, waiting up to the server's default of 30 minutes (the
   * call's deadline may end the wait first).
   *
   * @param jobId the job
   * @return whether it opened, and on which node
   * @throws AnomalydException JOB_NOT_FOUND, JOB_ALREADY_OPEN, JOB_FAILED, JOB_DELETING...
   */
  public OpenJobResponse openJob(String jobId) {
    return openJob(Requests.openJob(Requests.jobId(jobId), null));
  }

  /**
   * Opens a job, the server waiting up to {@code timeout} (the call's deadline is stretched
   * past it).
   *
   * @param jobId the job
   * @param timeout how long the server waits for the job to open
   * @return whether it opened, and on which node
   */
  public OpenJobResponse openJob(String jobId, Duration timeout) {
    return openJob(Requests.openJob(Requests.jobId(jobId), timeout));
  }

  /**
   * Opens a job.
   *
   * @param request the request
   * @return whether it opened, and on which node
   */
  public OpenJobResponse openJob(OpenJobRequest request) {
    return connection.blocking(JobServiceGrpc.getOpenJobMethod(), request, Requests.wait(request));
  }

  /**
   * Streams JSON documents (NDJSON, or any whitespace-separated JSON) into an open job in
   * messages of about 1 MiB cut at newlines. Reads the stream to its end; does not close it.
   *
   * @param jobId the job, which must be open
   * @param ndjson the documents
   * @return the counts of this upload
   * @throws AnomalydException JOB_NOT_FOUND, JOB_NOT_OPEN, DATA_STREAM_ACTIVE, UPLOAD_TOO_LARGE...
   *     (what was sent before a failure stays accepted)
   * @throws UncheckedIOException if the stream cannot be read; the upload is cancelled
   */
  public DataCounts postData(String jobId, InputStream ndjson) {
    return postData(jobId, ndjson, UploadOptions.defaults());
  }

  /**
   * Streams JSON documents into an open job as the options say.
   *
   * @param jobId the job, which must be open
   * @param ndjson the documents
   * @param options message size, a reset range, a listener
   * @return the counts of this upload
   * @throws AnomalydException as {@link #postData(String, InputStream)}
   * @throws UncheckedIOException if the stream cannot be read; the upload is cancelled
   */
  public DataCounts postData(String jobId, InputStream ndjson, UploadOptions options) {
    var chunks = new NdjsonChunker(ndjson, options.chunkBytes());
    return new Upload(connection, Requests.jobId(jobId), Upload.ndjson(chunks), options).run();
  }

  /**
   * Streams a file of JSON documents into an open job.
   *
   * @param jobId the job, which must be open
   * @param file the file
   * @return the counts of this upload
   * @throws AnomalydException as {@link #postData(String, InputStream)}
   * @throws UncheckedIOException if the file cannot be read
   */
  public DataCounts postData(String jobId, Path file) {
    return postData(jobId, file, UploadOptions.defaults());
  }

  /**
   * Streams a file of JSON documents into an open job as the options say.
   *
   * @param jobId the job, which must be open
   * @param file the file
   * @param options message size, a reset range, a listener
   * @return the counts of this upload
   * @throws AnomalydException as {@link #postData(String, InputStream)}
   * @throws UncheckedIOException if the file cannot be read
   */
  public DataCounts postData(String jobId, Path file, UploadOptions options) {
    try (InputStream in = Files.newInputStream(file)) {
      return postData(jobId, in, options);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * Streams column batches into an open job, one message per batch.
   *
   * @param jobId the job, which must be open
   * @param batches the batches, built with {@link Columns}; read lazily
   * @return the counts of this upload
   * @throws AnomalydException as {@link #postData(String, InputStream)}, and
   *     INVALID_COLUMN_BATCH for an inconsistent batch
   */
  public DataCounts postColumns(String jobId, Iterable<ColumnBatch> batches) {
    return postColumns(jobId, batches, UploadOptions.defaults());
  }

  /**
   * Streams column batches into an open job as the options say (the chunk size is not used).
   *
   * @param jobId the job, which must be open
   * @param batches the batches; read lazily
   * @param options a reset range, a listener
   * @return the counts of this upload
   * @throws AnomalydException as {@link #postColumns(String, Iterable)}
   */
  public DataCounts postColumns(String jobId, Iterable<ColumnBatch> batches, UploadOptions options) {
    return new Upload(connection, Requests.jobId(jobId), Upload.columns(batches.iterator()), options).run();
  }

  /**
   * Processes the data received so far.
   *
   * @param jobId the job, which must be open
   * @return whether it flushed, and the end of the last finalised bucket
   * @throws AnomalydException JOB_NOT_FOUND or JOB_NOT_OPEN
   */
  public FlushJobResponse flushJob(String jobId) {
    return flushJob(Requests.flushJob(Requests.jobId(jobId)));
  }

  /**
   * Flushes with interim results, advance_time or skip_time.
   *
   * @param request the request
   * @return whether it flushed, and the end of the last finalised bucket
   * @throws AnomalydException JOB_NOT_FOUND, JOB_NOT_OPEN, INVALID_REQUEST for a bad range
   */
  public FlushJobResponse flushJob(FlushJobRequest request) {
    return connection.blocking(JobServiceGrpc.getFlushJobMethod(), request, null);
  }

  /**
   * Closes the jobs matching an expression gracefully: waits for an active stream, finalises
   * complete buckets and persists the models.
   *
   * @param expression an id, a group, a comma-separated list, a wildcard, "_all" or "*"
   * @return whether they closed, and which
   * @throws AnomalydException JOB_FAILED for a failed job (close it with force)
   */
  public CloseJobResponse closeJob(String expression) {
    return closeJob(Requests.closeJob(expression, false));
  }

  /**
   * Closes the jobs matching an expression.
   *
   * @param expression an id, a group, a comma-separated list, a wildcard, "_all" or "*"
   * @param force close without finalising or persisting, aborting any active stream
   * @return whether they closed, and which
   */
  public CloseJobResponse closeJob(String expression, boolean force) {
    return closeJob(Requests.closeJob(expression, force));
  }

  /**
   * Closes jobs.
   *
   * @param request the request; its timeout stretches the call's deadline
   * @return whether they closed, and which
   */
  public CloseJobResponse closeJob(CloseJobRequest request) {
    return connection.blocking(JobServiceGrpc.getCloseJobMethod(), request, Requests.wait(request));
  }

  /**
   * Deletes a closed job with its state and results, waiting for the deletion.
   *
   * @param jobId the job
   * @return the acknowledgement
   * @throws AnomalydException JOB_NOT_FOUND, or JOB_OPEN for an open job
   */
  public DeleteJobResponse deleteJob(String jobId) {
    return deleteJob(Requests.deleteJob(Requests.jobId(jobId), false));
  }

  /**
   * Deletes a job, with force an open one.
   *
   * @param jobId the job
   * @param force force-close an open job first
   * @return the acknowledgement
   */
  public DeleteJobResponse deleteJob(String jobId, boolean force) {
    return deleteJob(Requests.deleteJob(Requests.jobId(jobId), force));
  }

  /**
   * Deletes a job; with wait_for_completion false, returns a task id for {@link #getTask}.
   *
   * @param request the request
   * @return the acknowledgement or the task id
   */
  public DeleteJobResponse deleteJob(DeleteJobRequest request) {
    return connection.blocking(JobServiceGrpc.getDeleteJobMethod(), request, null);
  }

  /**
   * Changes a job's updatable settings: the fields of the request's job that its update_mask
   * names (description, groups, analysis_limits, background_persist_interval, the retention
   * settings, renormalization_window_days, custom_settings, allow_lazy_open,
   * analysis_config.detectors for descriptions by detector_index).
   *
   * @param request the job's id and new values, and the mask
   * @return the job as stored after the update
   * @throws AnomalydException JOB_NOT_FOUND, INVALID_JOB_CONFIG, JOB_OPEN (analysis_limits of an
   *     open job), JOB_AND_GROUP_NAMES_MUST_BE_UNIQUE, JOB_DELETING, JOB_RESETTING
   */
  public Job updateJob(UpdateJobRequest request) {
    return connection.blocking(JobServiceGrpc.getUpdateJobMethod(), request, null).getJob();
  }

  /**
   * Resets a closed job to how it was created, waiting until it is done: its results, model,
   * snapshots and counts go, its configuration stays.
   *
   * @param jobId the job
   * @return the acknowledgement
   * @throws AnomalydException JOB_NOT_FOUND, JOB_OPEN, JOB_DELETING, JOB_RESETTING
   */
  public ResetJobResponse resetJob(String jobId) {
    return resetJob(ResetJobRequest.newBuilder().setJobId(Requests.jobId(jobId)).build());
  }

  /**
   * Resets a closed job; with wait_for_completion false, returns a task id for {@link #getTask}.
   *
   * @param request the request
   * @return the acknowledgement or the task id
   */
  public ResetJobResponse resetJob(ResetJobRequest request) {
    return connection.blocking(JobServiceGrpc.getResetJobMethod(), request, null);
  }

  /**
   * A task started by a call that did not wait for completion.
   *
   * @param taskId the task
   * @return the task
   * @throws AnomalydException TASK_NOT_FOUND
   */
  public Task getTask(String taskId) {
    return connection.blocking(JobServiceGrpc.getGetTaskMethod(), Requests.getTask(taskId), null).getTask();
  }

  /**
   * The first page (100) of a job's buckets, oldest first.
   *
   * @param jobId the job
   * @return the buckets and how many match over all pages
   */
  public GetBucketsResponse getBuckets(String jobId) {
    return getBuckets(Requests.getBuckets(Requests.jobId(jobId)));
  }

  /**
   * A page of a job's buckets with Elasticsearch's filters.
   *
   * @param request the request
   * @return the buckets and how many match over all pages
   */
  public GetBucketsResponse getBuckets(GetBucketsRequest request) {
    return connection.blocking(ResultsServiceGrpc.getGetBucketsMethod(), request, null);
  }

  /**
   * A job's top anomaly records, highest record_score first.
   *
   * @param jobId the job
   * @param size how many; 0 for the server's default of 100
   * @return the records and how many match over all pages
   */
  public GetRecordsResponse getRecords(String jobId, int size) {
    return getRecords(Requests.getRecords(Requests.jobId(jobId), size));
  }

  /**
   * A page of a job's anomaly records with Elasticsearch's filters.
   *
   * @param request the request
   * @return the records and how many match over all pages
   */
  public GetRecordsResponse getRecords(GetRecordsRequest request) {
    return connection.blocking(ResultsServiceGrpc.getGetRecordsMethod(), request, null);
  }

  /**
   * A job's top influencers, highest influencer_score first.
   *
   * @param jobId the job
   * @param size how many; 0 for the server's default of 100
   * @return the influencers and how many match over all pages
   */
  public GetInfluencersResponse getInfluencers(String jobId, int size) {
    return getInfluencers(Requests.getInfluencers(Requests.jobId(jobId), size));
  }

  /**
   * A page of a job's influencers with Elasticsearch's filters.
   *
   * @param request the request
   * @return the influencers and how many match over all pages
   */
  public GetInfluencersResponse getInfluencers(GetInfluencersRequest request) {
    return connection.blocking(ResultsServiceGrpc.getGetInfluencersMethod(), request, null);
  }

  /**
   * Bucket scores combined over the jobs matching an expression, oldest first.
   *
   * @param expression an id, a group, a comma-separated list, a wildcard, "_all" or "" (all)
   * @param topN how many of the jobs' highest bucket scores to average
   * @return the overall buckets
   */
  public GetOverallBucketsResponse getOverallBuckets(String expression, int topN) {
    return getOverallBuckets(Requests.getOverallBuckets(expression, topN));
  }

  /**
   * Overall buckets with every filter.
   *
   * @param request the request
   * @return the overall buckets
   */
  public GetOverallBucketsResponse getOverallBuckets(GetOverallBucketsRequest request) {
    return connection.blocking(ResultsServiceGrpc.getGetOverallBucketsMethod(), request, null);
  }

  /** Closes the channel if the client owns it, waiting up to 5 s for calls in flight. */
  @Override
  public void close() {
    connection.close();
  }
}
