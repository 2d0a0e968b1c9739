package io.anomalyd.client;

import io.anomalyd.v1.ColumnBatch;
import io.anomalyd.v1.NumericColumn;
import io.anomalyd.v1.StringColumn;
import java.time.Instant;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * Builds a {@link ColumnBatch}: records in columns, the fast path for data that is not JSON
 * already. Every column has one entry per record, in the order of the times.
 *
 * <pre>{@code
 * ColumnBatch batch = Columns.builder(new long[] {1700000000000L, 1700000060000L})
 *     .numeric("responsetime", new double[] {132.2, Double.NaN})   // NaN: the record lacks it
 *     .strings("airline", new String[] {"AAL", null})              // null: the record lacks it
 *     .build();
 * }</pre>
 */
public final class Columns {
  /** The time of a record without a valid time, counted as an invalid date. */
  public static final long MISSING_TIME = Long.MIN_VALUE;

  private Columns() {}

  /**
   * A builder of a batch of records at these times.
   *
   * @param epochMillis each record's time in milliseconds since the epoch, or {@link
   *     #MISSING_TIME}
   * @return the builder
   */
  public static Builder builder(long[] epochMillis) {
    return new Builder(epochMillis.clone());
  }

  /**
   * A builder of a batch of records at these times.
   *
   * @param times each record's time, or null for a record without one
   * @return the builder
   */
  public static Builder builder(Instant[] times) {
    long[] millis = new long[times.length];
    for (int i = 0; i < times.length; i++) {
      millis[i] = times[i] == null ? MISSING_TIME : times[i].toEpochMilli();
    }
    return new Builder(millis);
  }

  /** Adds columns to a batch. */
  public static final class Builder {
    private final ColumnBatch.Builder batch = ColumnBatch.newBuilder();
    private final int length;

    private Builder(long[] times) {
      this.length = times.length;
      batch.addAllTimes(Arrays.stream(times).boxed().toList());
    }

    /**
     * Adds a numeric field.
     *
     * @param name the field name, with dots for nested fields
     * @param values one per record; NaN for a record that lacks the field
     * @return this builder
     * @throws IllegalArgumentException if there are not as many values as times
     */
    public Builder numeric(String name, double[] values) {
      check(name, values.length);
      NumericColumn.Builder column = NumericColumn.newBuilder().setName(name);
      for (double v : values) {
        column.addValues(v);
      }
      batch.addNumericColumns(column);
      return this;
    }

    /**
     * Adds a string field, dictionary-encoded.
     *
     * @param name the field name, with dots for nested fields
     * @param values one per record; null for a record that lacks the field
     * @return this builder
     * @throws IllegalArgumentException if there are not as many values as times
     */
    public Builder strings(String name, String[] values) {
      check(name, values.length);
      Map<String, Integer> codes = new LinkedHashMap<>();
      StringColumn.Builder column = StringColumn.newBuilder().setName(name);
      for (String v : values) {
        column.addCodes(v == null ? 0 : codes.computeIfAbsent(v, k -> codes.size() + 1));
      }
      column.addAllDictionary(codes.keySet());
      batch.addStringColumns(column);
      return this;
    }

    /** @return the batch */
    public ColumnBatch build() {
      return batch.build();
    }

    private void check(String name, int values) {
      Objects.requireNonNull(name, "name");
      if (values != length) {
        throw new IllegalArgumentException("column '" + name + "' has " + values + " values for " + length + " times");
      }
    }
  }
}
