package io.anomalyd.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.anomalyd.v1.ColumnBatch;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

class ColumnsTest {
  @Test
  void stringsAreDictionaryEncodedWithZeroForMissing() {
    ColumnBatch batch =
        Columns.builder(new Instant[] {Instant.ofEpochMilli(1000), null, Instant.ofEpochMilli(3000)})
            .numeric("responsetime", new double[] {1.5, Double.NaN, 3})
            .strings("airline", new String[] {"AAL", null, "AAL"})
            .build();
    assertEquals(List.of(1000L, Columns.MISSING_TIME, 3000L), batch.getTimesList());
    assertEquals(List.of("AAL"), batch.getStringColumns(0).getDictionaryList());
    assertEquals(List.of(1, 0, 1), batch.getStringColumns(0).getCodesList());
    assertEquals(3, batch.getNumericColumns(0).getValuesCount());
  }

  @Test
  void aColumnOfAnotherLengthIsRefused() {
    assertThrows(IllegalArgumentException.class, () -> Columns.builder(new long[] {1, 2}).numeric("x", new double[] {1}));
  }
}
