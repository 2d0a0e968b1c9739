package io.anomalyd.client;

import com.google.protobuf.ByteString;
import com.google.protobuf.UnsafeByteOperations;
import java.io.IOException;
import java.io.InputStream;
import java.util.Arrays;

/**
 * Cuts a stream of JSON documents into chunks of at most {@code chunkBytes}, each ending at a
 * newline where the stream has one within that size. A line longer than a chunk is cut
 * anywhere: the server joins documents split across messages.
 */
final class NdjsonChunker {
  private static final byte[] NONE = new byte[0];

  private final InputStream in;
  private final int chunkBytes;
  private byte[] carry = NONE;
  private boolean eof;

  NdjsonChunker(InputStream in, int chunkBytes) {
    if (chunkBytes <= 0) {
      throw new IllegalArgumentException("chunkBytes must be positive: " + chunkBytes);
    }
    this.in = in;
    this.chunkBytes = chunkBytes;
  }

  /** The next chunk, or null at the end of the stream. */
  ByteString next() throws IOException {
    if (eof && carry.length == 0) {
      return null;
    }
    byte[] buffer = new byte[chunkBytes];
    int filled = carry.length;
    System.arraycopy(carry, 0, buffer, 0, filled);
    carry = NONE;
    while (filled < buffer.length && !eof) {
      int read = in.read(buffer, filled, buffer.length - filled);
      if (read < 0) {
        eof = true;
      } else {
        filled += read;
      }
    }
    if (filled == 0) {
      return null;
    }
    int cut = filled;
    if (!eof) {
      int newline = lastNewline(buffer, filled);
      if (newline >= 0) {
        cut = newline + 1;
        carry = Arrays.copyOfRange(buffer, cut, filled);
      }
    }
    // The buffer is never written again, so the chunk may wrap it; a small last chunk is
    // copied rather than keeping a whole buffer alive.
    return cut * 2 < chunkBytes ? ByteString.copyFrom(buffer, 0, cut) : UnsafeByteOperations.unsafeWrap(buffer, 0, cut);
  }

  private static int lastNewline(byte[] buffer, int length) {
    for (int i = length - 1; i >= 0; i--) {
      if (buffer[i] == '\n') {
        return i;
      }
    }
    return -1;
  }
}
