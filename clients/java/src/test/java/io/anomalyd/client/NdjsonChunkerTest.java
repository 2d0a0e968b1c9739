package io.anomalyd.client;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class NdjsonChunkerTest {
  private static List<ByteString> chunks(InputStream in, int size) throws IOException {
    NdjsonChunker chunker = new NdjsonChunker(in, size);
    List<ByteString> out = new ArrayList<>();
    for (ByteString c = chunker.next(); c != null; c = chunker.next()) {
      out.add(c);
    }
    assertNull(chunker.next(), "the end stays the end");
    return out;
  }

  private static byte[] join(List<ByteString> chunks) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    chunks.forEach(c -> out.writeBytes(c.toByteArray()));
    return out.toByteArray();
  }

  @Test
  void cutsAtTheLastNewlineWithinEachChunk() throws IOException {
    byte[] data = "{\"a\":1}\n{\"a\":22}\n{\"a\":333}\n".getBytes(StandardCharsets.UTF_8);
    List<ByteString> chunks = chunks(new ByteArrayInputStream(data), 20);
    assertEquals(List.of("{\"a\":1}\n{\"a\":22}\n", "{\"a\":333}\n"), chunks.stream().map(ByteString::toStringUtf8).toList());
  }

  @Test
  void aLineLongerThanAChunkIsCutAnywhereAndNothingIsLost() throws IOException {
    byte[] data = ("{\"long\":\"" + "x".repeat(50) + "\"}\n{\"b\":1}").getBytes(StandardCharsets.UTF_8);
    List<ByteString> chunks = chunks(new ByteArrayInputStream(data), 16);
    assertTrue(chunks.stream().allMatch(c -> c.size() <= 16));
    assertArrayEquals(data, join(chunks));
  }

  @Test
  void anEmptyStreamHasNoChunks() throws IOException {
    assertEquals(List.of(), chunks(new ByteArrayInputStream(new byte[0]), 8));
  }

  @Test
  void anyStreamComesBackWholeInChunksEndingAtNewlinesWhereItCan() throws IOException {
    Random random = new Random(7);
    for (int round = 0; round < 200; round++) {
      StringBuilder text = new StringBuilder();
      int lines = random.nextInt(40);
      for (int i = 0; i < lines; i++) {
        text.append("{\"v\":\"").append("y".repeat(random.nextInt(30))).append("\"}\n");
      }
      if (random.nextBoolean()) {
        text.append("{\"tail\":0}"); // no final newline
      }
      byte[] data = text.toString().getBytes(StandardCharsets.UTF_8);
      int size = 1 + random.nextInt(64);
      // Short reads, as a socket gives them.
      InputStream trickle =
          new FilterInputStream(new ByteArrayInputStream(data)) {
            @Override
            public int read(byte[] b, int off, int len) throws IOException {
              return super.read(b, off, Math.min(len, 1 + random.nextInt(7)));
            }
          };
      List<ByteString> chunks = chunks(trickle, size);
      assertArrayEquals(data, join(chunks), "round " + round);
      for (int i = 0; i < chunks.size() - 1; i++) {
        ByteString c = chunks.get(i);
        assertTrue(c.size() <= size);
        boolean endsAtNewline = c.byteAt(c.size() - 1) == '\n';
        assertTrue(endsAtNewline || c.size() == size, "a chunk is cut short only at a newline");
        if (!endsAtNewline) {
          assertEquals(-1, c.toStringUtf8().indexOf('\n'), "a full chunk is cut mid-line only when it holds no newline");
        }
      }
    }
  }
}
