package io.anomalyd.client;

import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.rpc.BadRequest;
import com.google.rpc.ErrorInfo;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.protobuf.StatusProto;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A call to anomalyd failed: the one exception the clients throw for a failed call.
 *
 * <p>Branch on {@link #reason()} (or {@link #code()}), never on {@link #getMessage()}, which
 * may be reworded. A failed upload keeps what it sent before the failure; {@code
 * metadata().get("processedRecordCount")} then says how many records that was.
 */
public final class AnomalydException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  /** The gRPC status code. */
  private final Status.Code code;
  /** The ErrorInfo reason as sent. */
  private final String reasonName;
  /** The status message. */
  private final String description;
  /** The ErrorInfo metadata. */
  private final Map<String, String> metadata;
  /** The BadRequest's field violations. */
  private final List<FieldViolation> fieldViolations;

  /**
   * A failure with every part given.
   *
   * @param code the gRPC status code
   * @param reasonName the ErrorInfo reason as sent, "" when there is none
   * @param description what went wrong, for people
   * @param metadata the ErrorInfo metadata (lowerCamel keys naming each value in the message)
   * @param fieldViolations the BadRequest's bad fields, in order
   * @param cause the gRPC exception behind it, or null
   */
  public AnomalydException(
      Status.Code code,
      String reasonName,
      String description,
      Map<String, String> metadata,
      List<FieldViolation> fieldViolations,
      Throwable cause) {
    super(label(code, reasonName, description), cause);
    this.code = code;
    this.reasonName = reasonName == null ? "" : reasonName;
    this.description = description == null ? "" : description;
    this.metadata = Map.copyOf(metadata);
    this.fieldViolations = List.copyOf(fieldViolations);
  }

  /**
   * Reads the code, message and {@code google.rpc} details of a failed call.
   *
   * @param error what gRPC raised or reported: a {@code StatusRuntimeException} or {@code
   *     StatusException} (any other throwable is read as gRPC reads it, usually UNKNOWN)
   * @return the failure; {@code error} itself when it already is one
   */
  public static AnomalydException from(Throwable error) {
    if (error instanceof AnomalydException known) {
      return known;
    }
    return from(Status.fromThrowable(error), Status.trailersFromThrowable(error), error);
  }

  /**
   * Reads a failed call's status and trailers.
   *
   * @param status the call's status, not OK
   * @param trailers its trailers, or null
   * @param cause the exception to chain, or null
   * @return the failure
   */
  public static AnomalydException from(Status status, Metadata trailers, Throwable cause) {
    com.google.rpc.Status rich = StatusProto.fromStatusAndTrailers(status, trailers);
    String reason = "";
    Map<String, String> metadata = Map.of();
    List<FieldViolation> violations = new ArrayList<>();
    for (Any detail : rich.getDetailsList()) {
      try {
        if (detail.is(ErrorInfo.class)) {
          ErrorInfo info = detail.unpack(ErrorInfo.class);
          reason = info.getReason();
          metadata = info.getMetadataMap();
        } else if (detail.is(BadRequest.class)) {
          for (BadRequest.FieldViolation v : detail.unpack(BadRequest.class).getFieldViolationsList()) {
            violations.add(new FieldViolation(v.getField(), v.getDescription()));
          }
        }
      } catch (InvalidProtocolBufferException e) {
        // A detail that does not parse is left out; the code and message still stand.
      }
    }
    String message = status.getDescription() != null ? status.getDescription() : rich.getMessage();
    Throwable why = status.getCause();
    if (why != null && why.getMessage() != null && !message.contains(why.getMessage())) {
      // A transport failure's status says "io exception"; its cause says which (refused, TLS).
      message = message.isEmpty() ? why.getMessage() : message + " (" + why.getMessage() + ")";
    }
    return new AnomalydException(status.getCode(), reason, message, metadata, violations, cause);
  }

  /**
   * The gRPC status code, such as {@code NOT_FOUND}.
   *
   * @return the code
   */
  public Status.Code code() {
    return code;
  }

  /**
   * The stable reason, such as {@link ErrorReason#JOB_NOT_FOUND}.
   *
   * @return the reason; {@link ErrorReason#UNKNOWN} for none or one this client does not know
   */
  public ErrorReason reason() {
    return ErrorReason.of(reasonName);
  }

  /**
   * The reason exactly as the server sent it.
   *
   * @return the reason, or "" when the failure did not come from anomalyd
   */
  public String reasonName() {
    return reasonName;
  }

  /**
   * What went wrong, for people; {@link #getMessage()} adds the code and reason before it.
   *
   * @return the status message
   */
  public String description() {
    return description;
  }

  /**
   * The ErrorInfo metadata, such as {@code {"jobId": "farequote"}}.
   *
   * @return an unmodifiable map, empty without an ErrorInfo
   */
  public Map<String, String> metadata() {
    return metadata;
  }

  /**
   * The fields a {@code google.rpc.BadRequest} names, in order.
   *
   * @return an unmodifiable list, empty without a BadRequest
   */
  public List<FieldViolation> fieldViolations() {
    return fieldViolations;
  }

  private static String label(Status.Code code, String reason, String description) {
    String head = reason == null || reason.isEmpty() ? code.name() : code.name() + " " + reason;
    return description == null || description.isEmpty() ? head : head + ": " + description;
  }
}
