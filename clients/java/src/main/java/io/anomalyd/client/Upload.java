package io.anomalyd.client;

import io.anomalyd.v1.DataCounts;
import io.anomalyd.v1.JobServiceGrpc;
import io.anomalyd.v1.PostDataRequest;
import io.anomalyd.v1.PostDataResponse;
import io.grpc.ClientCall;
import io.grpc.Metadata;
import io.grpc.Status;
import java.io.IOException;
import java.io.UncheckedIOException;

/**
 * One PostData stream, sent with flow control: a message is handed to gRPC only when the
 * transport is ready for it, so a large source is read no faster than the server takes it and
 * memory stays at about two messages. Runs on the calling thread.
 */
final class Upload {
  /** The messages of an upload, read one at a time. */
  interface Source {
    /** The next message (without job_id), or null at the end. */
    PostDataRequest next() throws IOException;
  }

  private final Connection connection;
  private final String jobId;
  private final Source source;
  private final UploadOptions options;

  private final Object lock = new Object();
  private ClientCall<PostDataRequest, PostDataResponse> call;
  private boolean cancelled;
  private boolean closed;
  private Status status;
  private Metadata trailers;
  private PostDataResponse response;

  Upload(Connection connection, String jobId, Source source, UploadOptions options) {
    this.connection = connection;
    this.jobId = jobId;
    this.source = source;
    this.options = options;
  }

  /** A source of NDJSON chunks. */
  static Source ndjson(NdjsonChunker chunks) {
    return () -> {
      var chunk = chunks.next();
      return chunk == null ? null : PostDataRequest.newBuilder().setData(chunk).build();
    };
  }

  /** A source of column batches, one a message. */
  static Source columns(java.util.Iterator<io.anomalyd.v1.ColumnBatch> batches) {
    return () -> batches.hasNext() ? PostDataRequest.newBuilder().setColumns(batches.next()).build() : null;
  }

  /**
   * Sends the whole source and waits for the counts.
   *
   * @throws AnomalydException if the call fails (data sent before the failure stays accepted)
   * @throws UncheckedIOException if the source fails; the stream is cancelled, keeping what
   *     was sent
   */
  DataCounts run() {
    // Reading the first message before the call starts fails a bad source (a missing file)
    // without touching the job.
    PostDataRequest.Builder first;
    try {
      PostDataRequest head = source.next();
      first = head == null ? PostDataRequest.newBuilder() : head.toBuilder();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    first.setJobId(jobId);
    if (options.resetStart() != null) {
      first.setResetStart(ProtoTime.timestamp(options.resetStart()));
    }
    if (options.resetEnd() != null) {
      first.setResetEnd(ProtoTime.timestamp(options.resetEnd()));
    }
    ClientCall<PostDataRequest, PostDataResponse> started =
        connection.channel.newCall(JobServiceGrpc.getPostDataMethod(), connection.stream());
    synchronized (lock) {
      if (cancelled) {
        throw cancelledByCaller();
      }
      call = started;
    }
    started.start(new Listener(), new Metadata());
    started.request(1);
    try {
      send(started, first.build());
    } catch (IOException e) {
      started.cancel("the upload's source failed", e);
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      started.cancel("the uploading thread was interrupted", e);
      Thread.currentThread().interrupt();
      throw interrupted(e);
    } catch (RuntimeException | Error e) {
      started.cancel("the upload failed", e);
      throw e;
    }
    return awaitCounts(started);
  }

  /** Cancels the stream from another thread; what was sent stays accepted. */
  void cancel() {
    ClientCall<PostDataRequest, PostDataResponse> current;
    synchronized (lock) {
      cancelled = true;
      current = call;
    }
    if (current != null) {
      current.cancel("cancelled by the caller", null);
    }
  }

  private void send(ClientCall<PostDataRequest, PostDataResponse> started, PostDataRequest first)
      throws IOException, InterruptedException {
    UploadListener listener = options.listener();
    long messages = 0;
    long bytes = 0;
    for (PostDataRequest message = first; message != null; message = source.next()) {
      if (!awaitReady(started)) {
        return; // the server ended the stream: its status says why
      }
      started.sendMessage(message);
      messages++;
      bytes += message.getData().size() + (message.hasColumns() ? message.getColumns().getSerializedSize() : 0);
      listener.onSent(messages, bytes);
    }
    listener.onAllSent(messages, bytes);
    started.halfClose();
  }

  /** Waits until the stream takes a message; false if it closed first. */
  private boolean awaitReady(ClientCall<PostDataRequest, PostDataResponse> started) throws InterruptedException {
    synchronized (lock) {
      while (!closed && !started.isReady()) {
        lock.wait();
      }
      return !closed;
    }
  }

  private DataCounts awaitCounts(ClientCall<PostDataRequest, PostDataResponse> started) {
    synchronized (lock) {
      try {
        while (!closed) {
          lock.wait();
        }
      } catch (InterruptedException e) {
        started.cancel("the uploading thread was interrupted", e);
        Thread.currentThread().interrupt();
        throw interrupted(e);
      }
      if (status.isOk() && response != null) {
        return response.getDataCounts();
      }
      Status failed = status.isOk() ? Status.INTERNAL.withDescription("PostData ended without counts") : status;
      return throwing(AnomalydException.from(failed, trailers, failed.asRuntimeException(trailers)));
    }
  }

  private static DataCounts throwing(AnomalydException e) {
    throw e;
  }

  private static AnomalydException interrupted(InterruptedException e) {
    return AnomalydException.from(Status.CANCELLED.withDescription("the uploading thread was interrupted").withCause(e), null, e);
  }

  private static AnomalydException cancelledByCaller() {
    return AnomalydException.from(Status.CANCELLED.withDescription("cancelled by the caller"), null, null);
  }

  private final class Listener extends ClientCall.Listener<PostDataResponse> {
    @Override
    public void onMessage(PostDataResponse message) {
      synchronized (lock) {
        response = message;
      }
    }

    @Override
    public void onReady() {
      synchronized (lock) {
        lock.notifyAll();
      }
    }

    @Override
    public void onClose(Status closedWith, Metadata closedTrailers) {
      synchronized (lock) {
        status = closedWith;
        trailers = closedTrailers;
        closed = true;
        lock.notifyAll();
      }
    }
  }
}
