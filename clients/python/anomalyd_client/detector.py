"""Detectors, and the Elasticsearch-style shorthand people write them in (see GRAMMAR)."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from anomalyd.v1 import job_pb2

GRAMMAR = """\
Keywords are case-insensitive; clauses come in any order, each at most once.

    detector := FUNCTION [ "(" [ NAME ] ")" ] { clause }
    clause   := "by" NAME
              | "over" NAME
              | "partition" "by" NAME
              | "partitionfield" "=" NAME
              | "partition_field_name" "=" NAME
    NAME     := a run of characters other than whitespace, ( ) = and "
              | '"' any characters but " '"'

Examples: count, mean(responsetime) by airline, high_count over clientip,
sum(bytes) by "user agent" partition by host. The partitionfield= form is the one
Elasticsearch writes in generated detector descriptions, so those parse back.
"""

_TOKEN = re.compile(r'\s*(?:(?P<quoted>"[^"]*")|(?P<punct>[()=])|(?P<word>[^\s()="]+)|(?P<bad>\S))')
_BARE = re.compile(r'[^\s()="]+')


@dataclasses.dataclass(frozen=True)
class Detector:
    """One detector of a job's analysis_config, as Elasticsearch names its fields."""

    function: str
    field_name: str = ""
    by_field_name: str = ""
    over_field_name: str = ""
    partition_field_name: str = ""
    detector_description: str = ""
    use_null: bool = False
    exclude_frequent: str = ""

    @classmethod
    def parse(cls, text: str) -> Detector:
        """Reads the shorthand described in GRAMMAR.

        Raises:
            ValueError: the text does not follow the grammar; the message says where.
        """
        return _Parser(text).detector()

    def shorthand(self) -> str:
        """Writes the function and fields in the shorthand.

        parse() reads it back to an equal Detector when detector_description and use_null are
        left at their defaults.

        Raises:
            ValueError: the function is not a bare word, or a name holds a double quote.
        """
        if not _BARE.fullmatch(self.function):
            raise ValueError(f"function {self.function!r} cannot be written in shorthand")
        parts = [f"{self.function}({_name(self.field_name)})" if self.field_name else self.function]
        if self.by_field_name:
            parts.append(f"by {_name(self.by_field_name)}")
        if self.over_field_name:
            parts.append(f"over {_name(self.over_field_name)}")
        if self.partition_field_name:
            parts.append(f"partitionfield={_name(self.partition_field_name)}")
        return " ".join(parts)

    def to_proto(self) -> job_pb2.Detector:
        """The Detector message."""
        return job_pb2.Detector(**dataclasses.asdict(self))


def _name(name: str) -> str:
    if _BARE.fullmatch(name):
        return name
    if '"' in name:
        raise ValueError(f"field name {name!r} cannot be written in shorthand")
    return f'"{name}"'


class _Parser:
    """A recursive-descent parser over the tokens of one detector."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._tokens: list[tuple[str, str]] = []
        self._pos = 0
        # Every character belongs to some token (or the whitespace before one), so the
        # matches cover the text.
        for match in _TOKEN.finditer(text.rstrip()):
            kind = match.lastgroup or ""
            if kind == "bad":
                raise ValueError(f"detector {text!r}: unterminated quote")
            self._tokens.append((kind, match[kind]))

    def detector(self) -> Detector:
        fields: dict[str, Any] = {"function": self._need("word", "a function name")}
        if self._take("punct", "(") and not self._take("punct", ")"):
            fields["field_name"] = self._name()
            self._need("punct", "')'", ")")
        while self._pos < len(self._tokens):
            keyword = self._need("word", "by, over or partition").lower()
            if keyword == "partition":
                self._need("word", "'by' after 'partition'", "by")
            elif keyword in ("partitionfield", "partition_field_name"):
                self._need("punct", "'='", "=")
            elif keyword not in ("by", "over"):
                raise self._expected("by, over or partition", back=1)
            key = f"{'partition' if keyword.startswith('partition') else keyword}_field_name"
            if key in fields:
                raise ValueError(f"detector {self._text!r}: {key} is given twice")
            fields[key] = self._name()
        return Detector(**fields)

    def _take(self, kind: str, value: str | None = None) -> str | None:
        """Consumes the next token if it is of this kind (and, case-insensitively, value)."""
        if self._pos < len(self._tokens):
            found_kind, found = self._tokens[self._pos]
            if found_kind == kind and value in (None, found.lower()):
                self._pos += 1
                return found
        return None

    def _need(self, kind: str, expected: str, value: str | None = None) -> str:
        found = self._take(kind, value)
        if found is None:
            raise self._expected(expected)
        return found

    def _name(self) -> str:
        kind, value = self._tokens[self._pos] if self._pos < len(self._tokens) else ("", "")
        if kind == "word" or (kind == "quoted" and value != '""'):
            self._pos += 1
            return value if kind == "word" else value[1:-1]
        raise self._expected("a field name")

    def _expected(self, what: str, back: int = 0) -> ValueError:
        pos = self._pos - back
        found = repr(self._tokens[pos][1]) if pos < len(self._tokens) else "the end"
        return ValueError(f"detector {self._text!r}: expected {what}, found {found}")
