package io.anomalyd.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.anomalyd.v1.Detector;
import org.junit.jupiter.api.Test;

class DetectorsTest {
  @Test
  void readsFunctionFieldAndClausesInAnyOrder() {
    assertEquals(
        Detector.newBuilder().setFunction("mean").setFieldName("responsetime").setByFieldName("airline").build(),
        Detectors.parse("mean(responsetime) by airline"));
    assertEquals(Detector.newBuilder().setFunction("count").build(), Detectors.parse("count"));
    assertEquals(Detector.newBuilder().setFunction("count").build(), Detectors.parse("count()"));
    assertEquals(
        Detector.newBuilder()
            .setFunction("sum")
            .setFieldName("bytes")
            .setByFieldName("user agent")
            .setPartitionFieldName("host")
            .setOverFieldName("ip")
            .build(),
        Detectors.parse("sum(bytes) PARTITION by host over ip by \"user agent\""));
    assertEquals("host", Detectors.parse("max(x) partitionfield=host").getPartitionFieldName());
  }

  @Test
  void saysWhereTheShorthandGoesWrong() {
    var twice = assertThrows(IllegalArgumentException.class, () -> Detectors.parse("mean(x) by a by b"));
    assertTrue(twice.getMessage().contains("by_field_name is given twice"), twice.getMessage());
    var keyword = assertThrows(IllegalArgumentException.class, () -> Detectors.parse("mean(x) with a"));
    assertTrue(keyword.getMessage().contains("expected by, over or partition, found 'with'"), keyword.getMessage());
    var paren = assertThrows(IllegalArgumentException.class, () -> Detectors.parse("mean(x"));
    assertTrue(paren.getMessage().contains("expected ')', found the end"), paren.getMessage());
    assertThrows(IllegalArgumentException.class, () -> Detectors.parse("mean(\"x)"));
    assertThrows(IllegalArgumentException.class, () -> Detectors.parse(""));
    assertThrows(IllegalArgumentException.class, () -> Detectors.parse("mean(x) by \"\""));
  }
}
