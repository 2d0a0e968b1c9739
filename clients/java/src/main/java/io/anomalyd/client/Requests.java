package io.anomalyd.client;

import io.anomalyd.v1.CloseJobRequest;
import io.anomalyd.v1.DeleteJobRequest;
import io.anomalyd.v1.FlushJobRequest;
import io.anomalyd.v1.GetBucketsRequest;
import io.anomalyd.v1.GetInfluencersRequest;
import io.anomalyd.v1.GetJobStatsRequest;
import io.anomalyd.v1.GetJobsRequest;
import io.anomalyd.v1.GetOverallBucketsRequest;
import io.anomalyd.v1.GetRecordsRequest;
import io.anomalyd.v1.GetTaskRequest;
import io.anomalyd.v1.OpenJobRequest;
import io.anomalyd.v1.Page;
import io.anomalyd.v1.PutJobRequest;
import java.time.Duration;
import java.util.Objects;

/** The requests behind the clients' short forms, shared by the blocking and async clients. */
final class Requests {
  private Requests() {}

  static PutJobRequest putJob(JobConfig config) {
    return PutJobRequest.newBuilder().setJob(config.toProto()).build();
  }

  static GetJobsRequest getJobs(String expression, Boolean allowNoMatch) {
    GetJobsRequest.Builder b = GetJobsRequest.newBuilder().setJobId(expression);
    if (allowNoMatch != null) {
      b.setAllowNoMatch(allowNoMatch);
    }
    return b.build();
  }

  static GetJobStatsRequest getJobStats(String expression, Boolean allowNoMatch) {
    GetJobStatsRequest.Builder b = GetJobStatsRequest.newBuilder().setJobId(expression);
    if (allowNoMatch != null) {
      b.setAllowNoMatch(allowNoMatch);
    }
    return b.build();
  }

  static OpenJobRequest openJob(String jobId, Duration timeout) {
    OpenJobRequest.Builder b = OpenJobRequest.newBuilder().setJobId(jobId);
    if (timeout != null) {
      b.setTimeout(ProtoTime.duration(timeout));
    }
    return b.build();
  }

  static FlushJobRequest flushJob(String jobId) {
    return FlushJobRequest.newBuilder().setJobId(jobId).build();
  }

  static CloseJobRequest closeJob(String expression, boolean force) {
    return CloseJobRequest.newBuilder().setJobId(expression).setForce(force).build();
  }

  static DeleteJobRequest deleteJob(String jobId, boolean force) {
    return DeleteJobRequest.newBuilder().setJobId(jobId).setForce(force).build();
  }

  static GetTaskRequest getTask(String taskId) {
    return GetTaskRequest.newBuilder().setTaskId(taskId).build();
  }

  static GetBucketsRequest getBuckets(String jobId) {
    return GetBucketsRequest.newBuilder().setJobId(jobId).build();
  }

  static GetRecordsRequest getRecords(String jobId, int size) {
    return GetRecordsRequest.newBuilder().setJobId(jobId).setPage(page(size)).build();
  }

  static GetInfluencersRequest getInfluencers(String jobId, int size) {
    return GetInfluencersRequest.newBuilder().setJobId(jobId).setPage(page(size)).build();
  }

  static GetOverallBucketsRequest getOverallBuckets(String expression, int topN) {
    return GetOverallBucketsRequest.newBuilder().setJobId(expression).setTopN(topN).build();
  }

  /** The server-side wait of an open, which the call's deadline must outlast. */
  static Duration wait(OpenJobRequest request) {
    return request.hasTimeout() ? ProtoTime.javaDuration(request.getTimeout()) : null;
  }

  /** The server-side wait of a close. */
  static Duration wait(CloseJobRequest request) {
    return request.hasTimeout() ? ProtoTime.javaDuration(request.getTimeout()) : null;
  }

  static String jobId(String jobId) {
    Objects.requireNonNull(jobId, "jobId");
    return jobId;
  }

  private static Page page(int size) {
    if (size < 0) {
      throw new IllegalArgumentException("size must not be negative: " + size);
    }
    return Page.newBuilder().setSize(size).build();
  }
}
