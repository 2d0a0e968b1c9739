package io.anomalyd.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

import com.google.protobuf.Any;
import com.google.rpc.BadRequest;
import com.google.rpc.Code;
import com.google.rpc.ErrorInfo;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class AnomalydExceptionTest {
  static StatusRuntimeException rich(Code code, String reason, String message, Map<String, String> metadata, BadRequest badRequest) {
    com.google.rpc.Status.Builder status =
        com.google.rpc.Status.newBuilder()
            .setCode(code.getNumber())
            .setMessage(message)
            .addDetails(Any.pack(ErrorInfo.newBuilder().setReason(reason).setDomain("anomalyd.io").putAllMetadata(metadata).build()));
    if (badRequest != null) {
      status.addDetails(Any.pack(badRequest));
    }
    return StatusProto.toStatusRuntimeException(status.build());
  }

  @Test
  void readsReasonMetadataAndFieldViolations() {
    BadRequest bad =
        BadRequest.newBuilder()
            .addFieldViolations(
                BadRequest.FieldViolation.newBuilder()
                    .setField("analysis_config.detectors[0].function")
                    .setDescription("unknown function 'nope'"))
            .build();
    AnomalydException e =
        AnomalydException.from(rich(Code.INVALID_ARGUMENT, "INVALID_JOB_CONFIG", "bad config", Map.of("jobId", "j"), bad));
    assertEquals(Status.Code.INVALID_ARGUMENT, e.code());
    assertEquals(ErrorReason.INVALID_JOB_CONFIG, e.reason());
    assertEquals("bad config", e.description());
    assertEquals("INVALID_ARGUMENT INVALID_JOB_CONFIG: bad config", e.getMessage());
    assertEquals(Map.of("jobId", "j"), e.metadata());
    assertEquals(
        List.of(new FieldViolation("analysis_config.detectors[0].function", "unknown function 'nope'")), e.fieldViolations());
  }

  @Test
  void aReasonThisClientDoesNotKnowIsUnknownButKept() {
    AnomalydException e = AnomalydException.from(rich(Code.ABORTED, "SOMETHING_NEW", "m", Map.of(), null));
    assertEquals(ErrorReason.UNKNOWN, e.reason());
    assertEquals("SOMETHING_NEW", e.reasonName());
  }

  @Test
  void aFailureWithoutDetailsHasNoReason() {
    AnomalydException e = AnomalydException.from(Status.UNAVAILABLE.withDescription("connection refused").asRuntimeException());
    assertEquals(Status.Code.UNAVAILABLE, e.code());
    assertEquals(ErrorReason.UNKNOWN, e.reason());
    assertEquals("", e.reasonName());
    assertEquals("UNAVAILABLE: connection refused", e.getMessage());
    assertSame(e, AnomalydException.from(e));
  }

  @Test
  void everyReasonReadsBackByName() {
    for (ErrorReason reason : ErrorReason.values()) {
      if (reason != ErrorReason.UNKNOWN) {
        assertEquals(reason, ErrorReason.of(reason.name()));
      }
    }
    assertEquals(ErrorReason.UNKNOWN, ErrorReason.of(null));
    assertEquals(ErrorReason.UNKNOWN, ErrorReason.of("UNKNOWN"));
  }
}
