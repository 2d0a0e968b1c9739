package io.anomalyd.client;

import io.grpc.CallCredentials;
import io.grpc.Metadata;
import java.util.Objects;
import java.util.concurrent.Executor;

/**
 * Sends an anomalyd API key with every call as {@code authorization: ApiKey <credential>}.
 *
 * <p>Unlike credentials that refuse to leave a process unencrypted, these are sent over
 * plaintext too, so a key also works against a server on loopback without TLS. The clients
 * attach them from {@link ClientOptions.Builder#apiKey(String)}; give them to a stub of your
 * own with {@code stub.withCallCredentials(new ApiKeyCredentials(key))}.
 */
public final class ApiKeyCredentials extends CallCredentials {
  /** The header the key travels in. */
  public static final Metadata.Key<String> AUTHORIZATION =
      Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

  private final String header;

  /**
   * Credentials for one key.
   *
   * @param credential what {@code anomalyd keys create} printed (base64 of {@code id:secret})
   * @throws IllegalArgumentException if the credential is empty or holds whitespace
   */
  public ApiKeyCredentials(String credential) {
    Objects.requireNonNull(credential, "credential");
    if (credential.isEmpty() || !credential.strip().equals(credential) || credential.contains(" ")) {
      throw new IllegalArgumentException("an API key is one word, as `anomalyd keys create` printed it");
    }
    this.header = "ApiKey " + credential;
  }

  @Override
  public void applyRequestMetadata(RequestInfo requestInfo, Executor appExecutor, MetadataApplier applier) {
    Metadata headers = new Metadata();
    headers.put(AUTHORIZATION, header);
    applier.apply(headers);
  }

  @Override
  public String toString() {
    // Never the credential itself: options and clients get logged.
    return "ApiKeyCredentials[ApiKey ***]";
  }
}
