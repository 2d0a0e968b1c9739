package io.anomalyd.client;

import com.google.protobuf.Duration;
import com.google.protobuf.Timestamp;
import java.time.Instant;

/** Conversions between {@code java.time} and the protobuf Timestamp and Duration. */
public final class ProtoTime {
  private ProtoTime() {}

  /**
   * @param instant an instant
   * @return the same instant as a Timestamp
   */
  public static Timestamp timestamp(Instant instant) {
    return Timestamp.newBuilder().setSeconds(instant.getEpochSecond()).setNanos(instant.getNano()).build();
  }

  /**
   * @param timestamp a Timestamp
   * @return the same instant
   */
  public static Instant instant(Timestamp timestamp) {
    return Instant.ofEpochSecond(timestamp.getSeconds(), timestamp.getNanos());
  }

  /**
   * @param timestamp a Timestamp
   * @return its milliseconds since the epoch, rounded down
   */
  public static long epochMillis(Timestamp timestamp) {
    return Math.addExact(Math.multiplyExact(timestamp.getSeconds(), 1000L), Math.floorDiv(timestamp.getNanos(), 1_000_000));
  }

  /**
   * @param duration a java.time duration
   * @return the same length as a protobuf Duration
   */
  public static Duration duration(java.time.Duration duration) {
    // Protobuf wants seconds and nanos of one sign; java.time keeps nanos positive.
    long seconds = duration.getSeconds();
    int nanos = duration.getNano();
    if (seconds < 0 && nanos > 0) {
      seconds += 1;
      nanos -= 1_000_000_000;
    }
    return Duration.newBuilder().setSeconds(seconds).setNanos(nanos).build();
  }

  /**
   * @param duration a protobuf Duration
   * @return the same length as a java.time duration
   */
  public static java.time.Duration javaDuration(Duration duration) {
    return java.time.Duration.ofSeconds(duration.getSeconds(), duration.getNanos());
  }
}
