package io.anomalyd.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.anomalyd.v1.Job;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class JobConfigTest {
  @Test
  void settersAfterADetectorSetThatDetector() {
    Job job =
        JobConfig.builder("farequote")
            .detector("mean", "responsetime").byField("airline").useNull(true)
            .detector("count").partitionField("host")
            .detector("high_sum(bytes) over ip")
            .bucketSpan(Duration.ofMinutes(15))
            .latency(Duration.ofSeconds(30))
            .influencer("airline", "host")
            .timeField("@timestamp")
            .timeFormat("epoch_ms")
            .group("web")
            .modelMemoryLimit("512mb")
            .resultsRetentionDays(30)
            .build()
            .toProto();
    var detectors = job.getAnalysisConfig().getDetectorsList();
    assertEquals(3, detectors.size());
    assertEquals("airline", detectors.get(0).getByFieldName());
    assertEquals(true, detectors.get(0).getUseNull());
    assertEquals("host", detectors.get(1).getPartitionFieldName());
    assertEquals("ip", detectors.get(2).getOverFieldName());
    assertEquals(900, job.getAnalysisConfig().getBucketSpan().getSeconds());
    assertEquals(30, job.getAnalysisConfig().getLatency().getSeconds());
    assertEquals(java.util.List.of("airline", "host"), job.getAnalysisConfig().getInfluencersList());
    assertEquals("@timestamp", job.getDataDescription().getTimeField());
    assertEquals("epoch_ms", job.getDataDescription().getTimeFormat());
    assertEquals("512mb", job.getAnalysisLimits().getModelMemoryLimit());
    assertEquals(30, job.getResultsRetentionDays());
    assertFalse(job.hasModelSnapshotRetentionDays(), "unset options are left to the server");
  }

  @Test
  void aBuilderCanBuildTwiceAndKeepGoing() {
    JobConfig.Builder builder = JobConfig.builder("j").detector("count");
    JobConfig first = builder.build();
    JobConfig second = builder.detector("mean", "x").build();
    assertEquals(1, first.toProto().getAnalysisConfig().getDetectorsCount());
    assertEquals(2, second.toProto().getAnalysisConfig().getDetectorsCount());
  }

  @Test
  void aDetectorFieldBeforeAnyDetectorIsAMistake() {
    assertThrows(IllegalStateException.class, () -> JobConfig.builder("j").byField("airline"));
  }
}
