package io.anomalyd.client;

import java.time.Instant;
import java.util.Objects;

/**
 * How an upload is sent: the size of its messages, a range of buckets to reset first, and a
 * listener.
 *
 * <pre>{@code
 * UploadOptions resend = UploadOptions.builder().resetRange(start, end).build();
 * }</pre>
 */
public final class UploadOptions {
  /** The default data bytes per PostData message: 1 MiB, cut at a newline. */
  public static final int DEFAULT_CHUNK_BYTES = 1 << 20;

  private static final UploadOptions DEFAULTS = builder().build();

  private final int chunkBytes;
  private final Instant resetStart;
  private final Instant resetEnd;
  private final UploadListener listener;

  private UploadOptions(Builder b) {
    this.chunkBytes = b.chunkBytes;
    this.resetStart = b.resetStart;
    this.resetEnd = b.resetEnd;
    this.listener = b.listener;
  }

  /** @return the defaults: 1 MiB messages, no reset, no listener */
  public static UploadOptions defaults() {
    return DEFAULTS;
  }

  /** @return a builder starting from the defaults */
  public static Builder builder() {
    return new Builder();
  }

  /** @return the most data bytes per message */
  public int chunkBytes() {
    return chunkBytes;
  }

  /** @return the start of the buckets to reset, or null */
  public Instant resetStart() {
    return resetStart;
  }

  /** @return the end of the buckets to reset, or null (the server takes start plus 1 s) */
  public Instant resetEnd() {
    return resetEnd;
  }

  /** @return the listener (one that does nothing when none was given) */
  public UploadListener listener() {
    return listener;
  }

  /** Builds {@link UploadOptions}. */
  public static final class Builder {
    private int chunkBytes = DEFAULT_CHUNK_BYTES;
    private Instant resetStart;
    private Instant resetEnd;
    private UploadListener listener = new UploadListener() {};

    private Builder() {}

    /**
     * The most data bytes per message (default 1 MiB). Keep it under the server's message
     * limit (16 MiB by default), and over a few kB: each message costs the server a step.
     *
     * @param chunkBytes a positive size
     * @return this builder
     */
    public Builder chunkBytes(int chunkBytes) {
      if (chunkBytes <= 0) {
        throw new IllegalArgumentException("chunkBytes must be positive: " + chunkBytes);
      }
      this.chunkBytes = chunkBytes;
      return this;
    }

    /**
     * Resets the buckets from {@code start} to {@code end} before the data, so their data can
     * be sent again.
     *
     * @param start the first bucket's time
     * @param end the end of the range, or null for start plus one second
     * @return this builder
     */
    public Builder resetRange(Instant start, Instant end) {
      this.resetStart = Objects.requireNonNull(start, "start");
      this.resetEnd = end;
      return this;
    }

    /**
     * A listener told of each message sent.
     *
     * @param listener the listener
     * @return this builder
     */
    public Builder listener(UploadListener listener) {
      this.listener = Objects.requireNonNull(listener, "listener");
      return this;
    }

    /** @return the options */
    public UploadOptions build() {
      return new UploadOptions(this);
    }
  }
}
