"""Job configuration rules and time formats."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anomalyd.core.config import DetectorConfig, JobConfig, describe, parse_memory_limit, validate
from anomalyd.core.errors import InvalidJobConfig
from anomalyd.core.timeparse import MAX_EPOCH_MS, MIN_EPOCH_MS, time_parser


@given(st.from_regex(r"[a-z0-9](?:[a-z0-9_.-]{0,60}[a-z0-9])?", fullmatch=True))
def test_valid_ids_are_accepted(job_id):
    validate(JobConfig(job_id=job_id, detectors=(DetectorConfig("count"),)))


@given(st.text(max_size=70).filter(lambda s: not s or s[0] in "_-." or any(c.isupper() or c in " /*," for c in s)))
def test_invalid_ids_are_refused(job_id):
    with pytest.raises(InvalidJobConfig):
        validate(JobConfig(job_id=job_id, detectors=(DetectorConfig("count"),)))


def test_violations_are_all_reported():
    config = JobConfig(job_id="ok", detectors=(DetectorConfig("mean"), DetectorConfig("rare")), bucket_span_s=0)
    with pytest.raises(InvalidJobConfig) as err:
        validate(config)
    fields = [f for f, _ in err.value.field_violations]
    assert "analysis_config.bucket_span" in fields
    assert "analysis_config.detectors[0].field_name" in fields
    assert "analysis_config.detectors[1].by_field_name" in fields


def test_nested_field_clash_is_refused():
    config = JobConfig(job_id="ok", detectors=(DetectorConfig("mean", field_name="a.b", by_field_name="a"),))
    with pytest.raises(InvalidJobConfig, match="clash"):
        validate(config)


def test_descriptions_as_elasticsearch_writes_them():
    assert describe(DetectorConfig("mean", "responsetime", by_field_name="airline")) == "mean(responsetime) by airline"
    assert describe(DetectorConfig("count", partition_field_name="host")) == "count partitionfield=host"
    # DefaultDetectorDescription: names with a non-word character quoted, usenull before partitionfield.
    full = DetectorConfig("sum", "val-ue", by_field_name='air"line', over_field_name="a\\b",
                          partition_field_name="planet", use_null=True)
    assert describe(full) == 'sum("val-ue") by "air\\"line" over "a\\\\b" usenull=true partitionfield=planet'
    assert describe(DetectorConfig("nzc", by_field_name="host.name")) == 'non_zero_count by "host.name"'
    assert describe(DetectorConfig("mean", "été")) == 'mean("été")'  # Java's \\W is ASCII


def test_exclude_frequent_takes_elasticsearch_values_in_any_case_and_shows_last_in_descriptions():
    config = JobConfig(job_id="ok", detectors=(DetectorConfig("count", by_field_name="process", exclude_frequent="ALL"),))
    (detector,) = validate(config).detectors
    assert (detector.exclude_frequent, detector.detector_description) == ("all", "count by process excludefrequent=all")
    full = DetectorConfig("sum", "value", by_field_name="airline", over_field_name="region",
                          partition_field_name="planet", use_null=True, exclude_frequent="all")
    assert describe(full) == "sum(value) by airline over region usenull=true partitionfield=planet excludefrequent=all"
    refused = JobConfig(job_id="ok", detectors=(DetectorConfig("count", exclude_frequent="sometimes"),))
    with pytest.raises(InvalidJobConfig) as err:
        validate(refused)
    assert err.value.field_violations == (
        ("analysis_config.detectors[0].exclude_frequent", "'sometimes' is not one of all, none, by, over"),
    )


@pytest.mark.parametrize(
    ("text", "mb"),
    [("1024mb", 1024), ("2gb", 2048), ("512", 512), ("1g", 1024), ("4096kb", 4), ("1.5gb", 1536), ("1.5 GB", 1536),
     ("0.5g", 512), ("2.9mb", 2), (".25gb", 256), ("1e3mb", 1000), ("1048576mb", 1 << 20), ("1048576.9mb", 1 << 20), ("1.5", 1)],
)
def test_memory_limits(text, mb):
    assert parse_memory_limit(text) == mb


@pytest.mark.parametrize("text", ["", "lots", "0", "500kb", "0.9mb", "-1", "1.2.3gb", "1e999gb", "nan", "inf", "1048577mb", "1x"])
def test_bad_memory_limits(text):
    with pytest.raises(ValueError):
        parse_memory_limit(text)


def test_epoch_formats_truncate():
    seconds, invalid = time_parser("epoch")([1454020569, 1454020569.9999, "1454020569.5", None, "x", True, float("nan")])
    assert seconds[:3].tolist() == [1454020569000, 1454020569999, 1454020569500]
    assert invalid.tolist() == [False, False, False, True, True, True, True]
    millis, invalid = time_parser("epoch_ms")([1454020569123.9, "17"])
    assert millis.tolist() == [1454020569123, 17] and not invalid.any()


EDGES = [MIN_EPOCH_MS, MAX_EPOCH_MS, MIN_EPOCH_MS // 1000, MAX_EPOCH_MS // 1000, 2**63, -(2**63), 2**53]
EPOCH_INTEGERS = st.sampled_from(EDGES).flatmap(lambda e: st.integers(e - 2, e + 2)) | st.integers() | st.integers(0, 2 * 10**12)


@settings(max_examples=300, deadline=None)
@given(st.lists(EPOCH_INTEGERS, min_size=1, max_size=20), st.sampled_from(["epoch", "epoch_ms"]))
def test_whole_number_epochs_read_as_any_number_does(values, time_format):
    parse = time_parser(time_format)
    millis, invalid = parse(values)
    # A float among them sends the column through the float path.
    float_millis, float_invalid = parse([*values, 0.5])
    assert millis.tolist() == float_millis[:-1].tolist()
    assert invalid.tolist() == float_invalid[:-1].tolist()


def test_population_analysis_is_accepted_where_elasticsearch_allows_an_over_field():
    for function, field in (("count", ""), ("high_sum", "bytes"), ("mean", "x"), ("metric", "x"), ("varp", "x"), ("low_median", "x")):
        validate(JobConfig(job_id="ok", detectors=(DetectorConfig(function, field, by_field_name="s", over_field_name="ip"),)))
    for function, field in (("non_zero_count", ""), ("high_nzc", ""), ("non_null_sum", "x")):
        with pytest.raises(InvalidJobConfig) as err:
            validate(JobConfig(job_id="ok", detectors=(DetectorConfig(function, field, over_field_name="ip"),)))
        assert [f for f, _ in err.value.field_violations] == ["analysis_config.detectors[0].over_field_name"]


def test_duplicate_detectors_and_dot_fields_are_refused():
    twice = JobConfig(job_id="ok", detectors=(DetectorConfig("mean", "x"), DetectorConfig("mean", "x")))
    with pytest.raises(InvalidJobConfig) as err:
        validate(twice)
    assert [f for f, _ in err.value.field_violations] == ["analysis_config.detectors[1]"]
    # Only equal detectors are duplicates: another description, use_null or split makes them differ.
    validate(JobConfig(job_id="ok", detectors=(DetectorConfig("mean", "x"), DetectorConfig("mean", "x", detector_description="again"))))
    validate(JobConfig(job_id="ok", detectors=(DetectorConfig("mean", "x"), DetectorConfig("mean", "x", use_null=True))))
    for name in (".", "a..b", ".a", "a."):
        with pytest.raises(InvalidJobConfig):
            validate(JobConfig(job_id="ok", detectors=(DetectorConfig("mean", name),)))


@given(st.datetimes(min_value=dt.datetime(1971, 1, 1), max_value=dt.datetime(2200, 1, 1)))
def test_patterns_read_utc_and_offsets(moment):
    moment = moment.replace(microsecond=moment.microsecond // 1000 * 1000, tzinfo=dt.UTC)
    parse = time_parser("yyyy-MM-dd'T'HH:mm:ss.SSSXXX")
    text = moment.astimezone(dt.timezone(dt.timedelta(hours=5, minutes=30))).isoformat(timespec="milliseconds")
    millis, invalid = parse([text])
    assert not invalid[0]
    assert millis[0] == (moment - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(milliseconds=1)


@pytest.mark.parametrize("pattern", ["HH:mm", "yyyy-MM", "dd/MM/yyyy", "yyyy-MM-dd QQ"])
def test_patterns_that_cannot_yield_an_instant_are_refused(pattern):
    with pytest.raises(ValueError):
        time_parser(pattern)
