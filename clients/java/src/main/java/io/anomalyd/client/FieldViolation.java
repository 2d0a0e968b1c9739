package io.anomalyd.client;

import java.util.Objects;

/**
 * One bad field of a request, from a {@code google.rpc.BadRequest}.
 *
 * @param field the field's path, such as {@code analysis_config.detectors[0].function}
 * @param description what is wrong with it
 */
public record FieldViolation(String field, String description) {
  /**
   * Checks that neither part is null.
   *
   * @param field the field's path
   * @param description what is wrong with it
   */
  public FieldViolation {
    Objects.requireNonNull(field, "field");
    Objects.requireNonNull(description, "description");
  }
}
