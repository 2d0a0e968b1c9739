package io.anomalyd.client;

/**
 * Hears how far an upload has got. Its methods run on the thread that sends the upload, so a
 * slow listener slows the upload.
 */
public interface UploadListener {
  /**
   * Called after each message is handed to the stream.
   *
   * @param messages messages sent so far
   * @param bytes data bytes sent so far (for columns: their encoded size)
   */
  default void onSent(long messages, long bytes) {}

  /**
   * Called once every message is handed to the stream, before the stream is ended; the
   * stream stays open (and the job's one stream taken) until this returns.
   *
   * @param messages messages sent
   * @param bytes data bytes sent
   */
  default void onAllSent(long messages, long bytes) {}
}
