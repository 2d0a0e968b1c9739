package io.anomalyd.client;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.Executor;

/**
 * How a client connects to anomalyd: the target, TLS, the API key and the deadline of calls.
 *
 * <pre>{@code
 * ClientOptions options = ClientOptions.builder("anomalyd.internal:50051")
 *     .caFile(Path.of("ca.pem"))                                   // TLS
 *     .clientCertificate(Path.of("client.pem"), Path.of("client-key.pem"))  // mutual TLS
 *     .apiKey(System.getenv("ANOMALYD_API_KEY"))
 *     .build();
 * }</pre>
 */
public final class ClientOptions {
  /** The target a client connects to when given none. */
  public static final String DEFAULT_TARGET = "127.0.0.1:50051";
  /** The default deadline of each unary call. */
  public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(60);
  /** The default limit on a response's size: 64 MiB (gRPC's own is 4 MiB). */
  public static final int DEFAULT_MAX_INBOUND_MESSAGE_BYTES = 64 << 20;

  private final String target;
  private final Duration timeout;
  private final boolean tls;
  private final Path caFile;
  private final Path certFile;
  private final Path keyFile;
  private final String apiKey;
  private final int maxInboundMessageBytes;
  private final Executor executor;

  private ClientOptions(Builder b) {
    this.target = b.target;
    this.timeout = b.timeout;
    this.tls = b.tls || b.caFile != null || b.certFile != null;
    this.caFile = b.caFile;
    this.certFile = b.certFile;
    this.keyFile = b.keyFile;
    this.apiKey = b.apiKey;
    this.maxInboundMessageBytes = b.maxInboundMessageBytes;
    this.executor = b.executor;
  }

  /**
   * Options for a plaintext connection to {@code target}, without a key.
   *
   * @param target {@code host:port}, or any target gRPC resolves ({@code dns:///host:port})
   * @return the options
   */
  public static ClientOptions of(String target) {
    return builder(target).build();
  }

  /**
   * A builder starting from a plaintext connection to {@code target}.
   *
   * @param target {@code host:port}, or any target gRPC resolves
   * @return the builder
   */
  public static Builder builder(String target) {
    return new Builder(target);
  }

  /** @return the target */
  public String target() {
    return target;
  }

  /** @return the deadline of each unary call; empty waits forever */
  public Optional<Duration> timeout() {
    return Optional.ofNullable(timeout);
  }

  /** @return whether the connection uses TLS */
  public boolean tls() {
    return tls;
  }

  /** @return the PEM CA certificates that verify the server; empty trusts the system's */
  public Optional<Path> caFile() {
    return Optional.ofNullable(caFile);
  }

  /** @return the PEM client certificate for mutual TLS */
  public Optional<Path> certFile() {
    return Optional.ofNullable(certFile);
  }

  /** @return the PEM (PKCS#8) private key of the client certificate */
  public Optional<Path> keyFile() {
    return Optional.ofNullable(keyFile);
  }

  /** @return the API key credential */
  public Optional<String> apiKey() {
    return Optional.ofNullable(apiKey);
  }

  /** @return the largest response accepted, in bytes */
  public int maxInboundMessageBytes() {
    return maxInboundMessageBytes;
  }

  /** @return the executor the async client reads upload sources on; empty: its own threads */
  public Optional<Executor> executor() {
    return Optional.ofNullable(executor);
  }

  @Override
  public String toString() {
    return "ClientOptions[target=" + target + ", tls=" + tls + ", apiKey=" + (apiKey == null ? "none" : "***") + "]";
  }

  /** Builds {@link ClientOptions}. */
  public static final class Builder {
    private final String target;
    private Duration timeout = DEFAULT_TIMEOUT;
    private boolean tls;
    private Path caFile;
    private Path certFile;
    private Path keyFile;
    private String apiKey;
    private int maxInboundMessageBytes = DEFAULT_MAX_INBOUND_MESSAGE_BYTES;
    private Executor executor;

    private Builder(String target) {
      this.target = Objects.requireNonNull(target, "target");
      if (target.isBlank()) {
        throw new IllegalArgumentException("the target is empty; give host:port");
      }
    }

    /**
     * The deadline of each unary call (default 60 s). Open and close wait at least their
     * server-side timeout and 10 s more; PostData streams have no deadline.
     *
     * @param timeout a positive duration, or null to wait forever
     * @return this builder
     */
    public Builder timeout(Duration timeout) {
      if (timeout != null && (timeout.isNegative() || timeout.isZero())) {
        throw new IllegalArgumentException("timeout must be positive: " + timeout);
      }
      this.timeout = timeout;
      return this;
    }

    /**
     * Connects with TLS, trusting the system's CAs unless {@link #caFile} is given. Giving a CA
     * file or a client certificate implies it.
     *
     * @param tls whether to use TLS
     * @return this builder
     */
    public Builder tls(boolean tls) {
      this.tls = tls;
      return this;
    }

    /**
     * PEM CA certificates to verify the server's certificate with; implies TLS.
     *
     * @param caFile the file, read when the client connects
     * @return this builder
     */
    public Builder caFile(Path caFile) {
      this.caFile = caFile;
      return this;
    }

    /**
     * A client certificate and its key, for a server that requires one (mutual TLS); implies
     * TLS.
     *
     * @param certFile the PEM certificate chain
     * @param keyFile its unencrypted PEM private key in PKCS#8 form ({@code BEGIN PRIVATE KEY})
     * @return this builder
     */
    public Builder clientCertificate(Path certFile, Path keyFile) {
      if ((certFile == null) != (keyFile == null)) {
        throw new IllegalArgumentException("a client certificate needs its key, and a key its certificate");
      }
      this.certFile = certFile;
      this.keyFile = keyFile;
      return this;
    }

    /**
     * The API key sent with every call as {@code authorization: ApiKey <credential>}, over TLS
     * or plaintext.
     *
     * @param credential what {@code anomalyd keys create} printed; null sends none
     * @return this builder
     * @throws IllegalArgumentException if it is empty or holds whitespace
     */
    public Builder apiKey(String credential) {
      if (credential != null) {
        new ApiKeyCredentials(credential); // checks it now rather than at the first call
      }
      this.apiKey = credential;
      return this;
    }

    /**
     * The largest response accepted (default 64 MiB).
     *
     * @param bytes a positive size
     * @return this builder
     */
    public Builder maxInboundMessageBytes(int bytes) {
      if (bytes <= 0) {
        throw new IllegalArgumentException("maxInboundMessageBytes must be positive: " + bytes);
      }
      this.maxInboundMessageBytes = bytes;
      return this;
    }

    /**
     * Where {@link AnomalydAsyncClient} reads upload sources, which may block. By default it
     * starts daemon threads of its own as uploads need them, and stops them on close; an
     * executor given here is never shut down by the client.
     *
     * @param executor the executor, or null for the default
     * @return this builder
     */
    public Builder executor(Executor executor) {
      this.executor = executor;
      return this;
    }

    /** @return the options */
    public ClientOptions build() {
      return new ClientOptions(this);
    }
  }
}
