package io.anomalyd.client;

import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ChannelCredentials;
import io.grpc.ClientCall;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.TlsChannelCredentials;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/** A channel and how calls go over it: credentials, deadlines, errors. Shared by both clients. */
final class Connection implements AutoCloseable {
  /**
   * Added to a server-side wait (an open or close timeout) so that the server's own
   * DEADLINE_EXCEEDED, with its reason, arrives before the client gives up on the call.
   */
  static final Duration DEADLINE_MARGIN = Duration.ofSeconds(10);

  private static final long CLOSE_WAIT_SECONDS = 5;

  final Channel channel;
  private final ManagedChannel owned;
  private final CallOptions callOptions;
  private final Duration timeout;

  Connection(Channel channel, ManagedChannel owned, ClientOptions options) {
    this.channel = channel;
    this.owned = owned;
    this.timeout = options.timeout().orElse(null);
    CallOptions base = CallOptions.DEFAULT;
    if (options.apiKey().isPresent()) {
      base = base.withCallCredentials(new ApiKeyCredentials(options.apiKey().get()));
    }
    this.callOptions = base;
  }

  /** Opens a channel that the connection owns and closes. */
  static Connection open(ClientOptions options) {
    ManagedChannel channel =
        Grpc.newChannelBuilder(options.target(), credentials(options))
            .maxInboundMessageSize(options.maxInboundMessageBytes())
            .build();
    return new Connection(channel, channel, options);
  }

  /** Uses a channel that the caller owns. */
  static Connection over(Channel channel, ClientOptions options) {
    return new Connection(channel, null, options);
  }

  private static ChannelCredentials credentials(ClientOptions options) {
    if (!options.tls()) {
      return InsecureChannelCredentials.create();
    }
    TlsChannelCredentials.Builder tls = TlsChannelCredentials.newBuilder();
    try {
      if (options.caFile().isPresent()) {
        tls.trustManager(options.caFile().get().toFile());
      }
      if (options.certFile().isPresent()) {
        tls.keyManager(options.certFile().get().toFile(), options.keyFile().orElseThrow().toFile());
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read a TLS file: " + e.getMessage(), e);
    }
    return tls.build();
  }

  /** Options for one unary call: the client's deadline, stretched past a server-side wait. */
  CallOptions unary(Duration serverWait) {
    Duration deadline = timeout;
    if (deadline != null && serverWait != null) {
      Duration stretched = serverWait.plus(DEADLINE_MARGIN);
      if (stretched.compareTo(deadline) > 0) {
        deadline = stretched;
      }
    }
    return deadline == null ? callOptions : callOptions.withDeadlineAfter(deadline.toNanos(), TimeUnit.NANOSECONDS);
  }

  /** Options for a stream, which has no deadline. */
  CallOptions stream() {
    return callOptions;
  }

  <Q, R> R blocking(MethodDescriptor<Q, R> method, Q request, Duration serverWait) {
    try {
      return ClientCalls.blockingUnaryCall(channel, method, unary(serverWait), request);
    } catch (StatusRuntimeException e) {
      throw AnomalydException.from(e);
    }
  }

  <Q, R> CompletableFuture<R> async(MethodDescriptor<Q, R> method, Q request, Duration serverWait) {
    ClientCall<Q, R> call = channel.newCall(method, unary(serverWait));
    CompletableFuture<R> future = new CompletableFuture<>();
    future.whenComplete(
        (result, error) -> {
          if (future.isCancelled()) {
            call.cancel("cancelled by the caller", null);
          }
        });
    ClientCalls.asyncUnaryCall(
        call,
        request,
        new StreamObserver<R>() {
          @Override
          public void onNext(R value) {
            future.complete(value);
          }

          @Override
          public void onError(Throwable t) {
            future.completeExceptionally(AnomalydException.from(t));
          }

          @Override
          public void onCompleted() {
            if (!future.isDone()) {
              future.completeExceptionally(
                  AnomalydException.from(Status.INTERNAL.withDescription("the call ended without a response"), new Metadata(), null));
            }
          }
        });
    return future;
  }

  @Override
  public void close() {
    if (owned == null) {
      return;
    }
    owned.shutdown();
    try {
      if (!owned.awaitTermination(CLOSE_WAIT_SECONDS, TimeUnit.SECONDS)) {
        owned.shutdownNow();
      }
    } catch (InterruptedException e) {
      owned.shutdownNow();
      Thread.currentThread().interrupt();
    }
  }
}
