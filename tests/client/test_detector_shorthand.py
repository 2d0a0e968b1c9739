"""The detector shorthand: examples, errors, and round trips for any names."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from anomalyd_client import Detector


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("count", Detector("count")),
        ("count()", Detector("count")),
        ("mean(responsetime) by airline", Detector("mean", "responsetime", "airline")),
        ("high_count over clientip", Detector("high_count", over_field_name="clientip")),
        ("  sum( bytes )  BY host  ", Detector("sum", "bytes", "host")),
        (
            'sum(bytes) by "user agent" partition by host',
            Detector("sum", "bytes", "user agent", partition_field_name="host"),
        ),
        ("count partitionfield=dc", Detector("count", partition_field_name="dc")),
        ("count partition_field_name = dc", Detector("count", partition_field_name="dc")),
        ("rare by over over by", Detector("rare", by_field_name="over", over_field_name="by")),
        ("max(a.b) over c.d", Detector("max", "a.b", over_field_name="c.d")),
    ],
)
def test_parses_examples(text: str, expected: Detector) -> None:
    assert Detector.parse(text) == expected


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("", "expected a function name, found the end"),
        ("(x)", "expected a function name, found '('"),
        ("mean(", "expected a field name, found the end"),
        ("mean(x", "expected ')', found the end"),
        ("mean(x) by", "expected a field name, found the end"),
        ("mean(x) with y", "expected by, over or partition, found 'with'"),
        ("mean(x) partition y", "expected 'by' after 'partition', found 'y'"),
        ("mean(x) partitionfield y", "expected '=', found 'y'"),
        ("mean(x) by a over b by c", "by_field_name is given twice"),
        ("mean(x) partition by a partitionfield=b", "partition_field_name is given twice"),
        ('mean("x)', "unterminated quote"),
        ('mean("")', "expected a field name"),
    ],
)
def test_rejects_malformed_text(text: str, complaint: str) -> None:
    with pytest.raises(ValueError, match=re.escape(complaint)):
        Detector.parse(text)


# Any text but a double quote, which §5 forbids in field names anyway.
names = st.text(st.characters(exclude_characters='"', exclude_categories=["Cs"]), min_size=1)
optional_names = st.one_of(st.just(""), names)
functions = st.one_of(
    st.sampled_from(["count", "mean", "high_mean", "low_count", "sum", "rare", "time_of_day"]),
    st.from_regex(r"[a-z_]{1,20}", fullmatch=True),
)
detectors = st.builds(
    Detector,
    function=functions,
    field_name=optional_names,
    by_field_name=optional_names,
    over_field_name=optional_names,
    partition_field_name=optional_names,
)


@given(detectors)
def test_shorthand_round_trips(detector: Detector) -> None:
    assert Detector.parse(detector.shorthand()) == detector


@given(detectors, st.data())
def test_clause_order_keyword_forms_and_spacing_do_not_matter(
    detector: Detector, data: st.DataObject
) -> None:
    space = data.draw(st.text(" \t\n", min_size=1, max_size=3))
    keywords = {
        "by_field_name": data.draw(st.sampled_from(["by ", "BY ", "By\t"])),
        "over_field_name": data.draw(st.sampled_from(["over ", "OVER "])),
        "partition_field_name": data.draw(
            st.sampled_from(
                ["partition by ", "Partition BY ", "partitionfield=", "partition_field_name = "]
            )
        ),
    }
    clauses = [
        f'{keyword}"{getattr(detector, key)}"'
        for key, keyword in keywords.items()
        if getattr(detector, key)
    ]
    head = (
        f'{detector.function}("{detector.field_name}")'
        if detector.field_name
        else detector.function
    )
    text = space.join([head, *data.draw(st.permutations(clauses))])
    assert Detector.parse(text) == detector


def test_shorthand_quotes_only_what_needs_it() -> None:
    detector = Detector("sum", "bytes", "user agent", "a=b", "(x)")
    assert detector.shorthand() == 'sum(bytes) by "user agent" over "a=b" partitionfield="(x)"'


def test_names_with_a_double_quote_have_no_shorthand() -> None:
    with pytest.raises(ValueError, match="cannot be written"):
        Detector("mean", 'say "hi"').shorthand()


def test_to_proto_carries_every_field() -> None:
    message = Detector("mean", "x", "b", "o", "p", "desc", use_null=True).to_proto()
    assert (message.function, message.field_name, message.by_field_name) == ("mean", "x", "b")
    assert (message.over_field_name, message.partition_field_name) == ("o", "p")
    assert message.detector_description == "desc" and message.use_null
