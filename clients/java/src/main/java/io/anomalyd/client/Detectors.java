package io.anomalyd.client;

import io.anomalyd.v1.Detector;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Reads detectors in the Elasticsearch-style shorthand that the CLI and the Python client
 * take: {@code count}, {@code mean(responsetime) by airline}, {@code high_count over clientip},
 * {@code sum(bytes) by "user agent" partition by host}.
 *
 * <pre>
 * detector := FUNCTION [ "(" [ NAME ] ")" ] { clause }      keywords case-insensitive,
 * clause   := "by" NAME | "over" NAME | "partition" "by" NAME  each clause at most once
 *           | "partitionfield" "=" NAME | "partition_field_name" "=" NAME
 * NAME     := characters other than whitespace ( ) = and " | '"' any characters but '"' '"'
 * </pre>
 */
public final class Detectors {
  private Detectors() {}

  /**
   * Reads one detector.
   *
   * @param shorthand such as {@code mean(responsetime) by airline}
   * @return the Detector message
   * @throws IllegalArgumentException if the text does not follow the grammar; the message says
   *     where
   */
  public static Detector parse(String shorthand) {
    return new Parser(shorthand).detector();
  }

  private enum Kind {
    WORD,
    QUOTED,
    PUNCT
  }

  private record Token(Kind kind, String text) {}

  private static final class Parser {
    private final String source;
    private final List<Token> tokens = new ArrayList<>();
    private int pos;

    Parser(String source) {
      this.source = source;
      int i = 0;
      int n = source.length();
      while (i < n) {
        char c = source.charAt(i);
        if (Character.isWhitespace(c)) {
          i++;
        } else if (c == '(' || c == ')' || c == '=') {
          tokens.add(new Token(Kind.PUNCT, String.valueOf(c)));
          i++;
        } else if (c == '"') {
          int close = source.indexOf('"', i + 1);
          if (close < 0) {
            throw new IllegalArgumentException("detector '" + source + "': unterminated quote");
          }
          tokens.add(new Token(Kind.QUOTED, source.substring(i + 1, close)));
          i = close + 1;
        } else {
          int start = i;
          while (i < n && !isSpecial(source.charAt(i))) {
            i++;
          }
          tokens.add(new Token(Kind.WORD, source.substring(start, i)));
        }
      }
    }

    private static boolean isSpecial(char c) {
      return Character.isWhitespace(c) || c == '(' || c == ')' || c == '=' || c == '"';
    }

    Detector detector() {
      Detector.Builder d = Detector.newBuilder().setFunction(need(Kind.WORD, "a function name", null));
      if (take(Kind.PUNCT, "(") != null && take(Kind.PUNCT, ")") == null) {
        d.setFieldName(name());
        need(Kind.PUNCT, "')'", ")");
      }
      while (pos < tokens.size()) {
        String keyword = need(Kind.WORD, "by, over or partition", null).toLowerCase(Locale.ROOT);
        switch (keyword) {
          case "by" -> once(d.getByFieldName(), "by_field_name", () -> d.setByFieldName(name()));
          case "over" -> once(d.getOverFieldName(), "over_field_name", () -> d.setOverFieldName(name()));
          case "partition" -> {
            need(Kind.WORD, "'by' after 'partition'", "by");
            once(d.getPartitionFieldName(), "partition_field_name", () -> d.setPartitionFieldName(name()));
          }
          case "partitionfield", "partition_field_name" -> {
            need(Kind.PUNCT, "'='", "=");
            once(d.getPartitionFieldName(), "partition_field_name", () -> d.setPartitionFieldName(name()));
          }
          default -> {
            pos--;
            throw expected("by, over or partition");
          }
        }
      }
      return d.build();
    }

    private void once(String current, String field, Runnable set) {
      if (!current.isEmpty()) {
        throw new IllegalArgumentException("detector '" + source + "': " + field + " is given twice");
      }
      set.run();
    }

    private String take(Kind kind, String value) {
      if (pos < tokens.size()) {
        Token t = tokens.get(pos);
        if (t.kind() == kind && (value == null || value.equals(t.text().toLowerCase(Locale.ROOT)))) {
          pos++;
          return t.text();
        }
      }
      return null;
    }

    private String need(Kind kind, String expected, String value) {
      String found = take(kind, value);
      if (found == null) {
        throw expected(expected);
      }
      return found;
    }

    private String name() {
      if (pos < tokens.size()) {
        Token t = tokens.get(pos);
        if (t.kind() == Kind.WORD || (t.kind() == Kind.QUOTED && !t.text().isEmpty())) {
          pos++;
          return t.text();
        }
      }
      throw expected("a field name");
    }

    private IllegalArgumentException expected(String what) {
      String found = pos < tokens.size() ? "'" + tokens.get(pos).text() + "'" : "the end";
      return new IllegalArgumentException("detector '" + source + "': expected " + what + ", found " + found);
    }
  }
}
