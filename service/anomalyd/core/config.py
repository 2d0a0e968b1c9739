"""Job configuration: the domain form of a job, and its validation as Elasticsearch does it."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import msgspec

from anomalyd.core.errors import InvalidJobConfig
from anomalyd.core.timeparse import time_parser
from anomalyd.engine.field_values import TEXT_KINDS
from anomalyd.engine.functions import FUNCTIONS as ENGINE_FUNCTIONS
from anomalyd.engine.records import AnalysisSpec, DetectorSpec

JOB_ID_PATTERN = re.compile(r"[a-z0-9](?:[a-z0-9_.-]*[a-z0-9])?")
MAX_ID_LENGTH = 64
EXCLUDE_FREQUENT = ("all", "none", "by", "over")  # Elasticsearch's Detector.ExcludeFrequent
DEFAULT_BUCKET_SPAN_S = 300
DEFAULT_MODEL_MEMORY_LIMIT_MB = 1024
DEFAULT_PERSIST_INTERVAL_S = 3 * 3600
DEFAULT_SNAPSHOT_RETENTION_DAYS = 10
DEFAULT_DAILY_RETENTION_AFTER_DAYS = 1
MIN_PERSIST_INTERVAL_S = 3600
# Upper bounds, so that no configuration costs unbounded memory or time, or overflows int64 ms.
# Elasticsearch caps model_memory_limit by a cluster maximum; the others are far beyond any use.
MAX_MODEL_MEMORY_LIMIT_MB = 1 << 20  # 1 TiB
MAX_BUCKET_SPAN_S = 7 * 86_400  # the longest seasonal period the engine models
MAX_LATENCY_BUCKETS = 1_000  # latency/span entries in the bucket-diagnostics ring
MAX_DETECTORS = 100
MAX_INFLUENCERS = 100
MAX_GROUPS = 100
MAX_DAYS = 36_500  # retention and renormalisation windows: 100 years
MAX_PERSIST_INTERVAL_S = 7 * 86_400
_BYTE_UNITS = {"b": 1, "k": 1 << 10, "kb": 1 << 10, "m": 1 << 20, "mb": 1 << 20,
               "g": 1 << 30, "gb": 1 << 30, "t": 1 << 40, "tb": 1 << 40, "p": 1 << 50, "pb": 1 << 50}
_SIZE = re.compile(r"\s*((?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:e[+-]?[0-9]+)?)\s*([a-z]*)\s*")
_FORBIDDEN_FIELD_CHARS = re.compile(r'["\\\x00-\x1f]')
# Elasticsearch's MlStrings.doubleQuoteIfNotAlphaNumeric quotes names with a Java \W, which is ASCII.
_NEEDS_QUOTING = re.compile(r"\W", re.ASCII)
# DetectorFunction's shortcuts: a description, and the test for duplicates, use the full name.
_FULL_NAMES = {"nzc": "non_zero_count", "low_nzc": "low_non_zero_count", "high_nzc": "high_non_zero_count",
               "dc": "distinct_count", "low_dc": "low_distinct_count", "high_dc": "high_distinct_count"}


@dataclass(frozen=True)
class FunctionRule:
    """What a detector function requires of its fields (Elasticsearch's DetectorFunction)."""

    field: bool  # True: field_name required; False: forbidden
    by_required: bool = False
    over_required: bool = False
    over_forbidden: bool = False


def _sided(name: str, rule: FunctionRule, *, low: bool = True, high: bool = True) -> dict[str, FunctionRule]:
    names = [name] + (["low_" + name] if low else []) + (["high_" + name] if high else [])
    return dict.fromkeys(names, rule)


FUNCTIONS: dict[str, FunctionRule] = {
    **_sided("count", FunctionRule(field=False)),
    **_sided("non_zero_count", FunctionRule(field=False, over_forbidden=True)),
    **_sided("nzc", FunctionRule(field=False, over_forbidden=True)),
    **_sided("mean", FunctionRule(field=True)),
    **_sided("avg", FunctionRule(field=True)),
    **_sided("median", FunctionRule(field=True)),
    **_sided("sum", FunctionRule(field=True)),
    **_sided("non_null_sum", FunctionRule(field=True, over_forbidden=True)),
    **_sided("varp", FunctionRule(field=True)),
    "min": FunctionRule(field=True),
    "max": FunctionRule(field=True),
    "metric": FunctionRule(field=True),
    **_sided("distinct_count", FunctionRule(field=True)),
    **_sided("dc", FunctionRule(field=True)),
    **_sided("info_content", FunctionRule(field=True)),
    "rare": FunctionRule(field=False, by_required=True),
    "freq_rare": FunctionRule(field=False, by_required=True, over_required=True),
    "time_of_day": FunctionRule(field=False),
    "time_of_week": FunctionRule(field=False),
    "lat_long": FunctionRule(field=True),
}


def _reads(function: str) -> str:
    """What a function reads from each record (engine.field_values kinds)."""
    engine_function = ENGINE_FUNCTIONS.get(function)
    return "number" if engine_function is None else engine_function.reads


def _reads_text(function: str) -> bool:
    """Whether a function reads its field's text (distinct_count, info_content, lat_long), not a number."""
    return _reads(function) in TEXT_KINDS


class DetectorConfig(msgspec.Struct, frozen=True):
    """One detector of a job; empty strings mean "not set"."""

    function: str
    field_name: str = ""
    by_field_name: str = ""
    over_field_name: str = ""
    partition_field_name: str = ""
    detector_description: str = ""
    use_null: bool = False
    exclude_frequent: str = ""  # "", or one of EXCLUDE_FREQUENT after validation


class JobConfig(msgspec.Struct, frozen=True):
    """A job as stored; durations in seconds, times in epoch milliseconds."""

    job_id: str
    detectors: tuple[DetectorConfig, ...]
    description: str = ""
    groups: tuple[str, ...] = ()
    bucket_span_s: int = DEFAULT_BUCKET_SPAN_S
    influencers: tuple[str, ...] = ()
    latency_s: int = 0
    summary_count_field_name: str = ""
    time_field: str = "time"
    time_format: str = "epoch"
    results_retention_days: int | None = None
    model_snapshot_retention_days: int = DEFAULT_SNAPSHOT_RETENTION_DAYS
    daily_model_snapshot_retention_after_days: int = DEFAULT_DAILY_RETENTION_AFTER_DAYS
    renormalization_window_days: int | None = None
    background_persist_interval_s: int = DEFAULT_PERSIST_INTERVAL_S
    model_memory_limit_mb: int = DEFAULT_MODEL_MEMORY_LIMIT_MB
    create_time_ms: int = 0
    job_version: str = ""
    custom_settings: str = ""  # the user's JSON object, as given
    allow_lazy_open: bool = False

    @property
    def bucket_span_ms(self) -> int:
        """The bucket span in milliseconds."""
        return self.bucket_span_s * 1000

    @property
    def latency_ms(self) -> int:
        """The latency in milliseconds."""
        return self.latency_s * 1000

    def analysis_fields(self) -> tuple[str, ...]:
        """Every field the analysis reads, sorted: Elasticsearch counts missing fields over these."""
        names = {self.summary_count_field_name, *self.influencers}
        for d in self.detectors:
            names.update((d.field_name, d.by_field_name, d.over_field_name, d.partition_field_name))
        names.discard("")
        return tuple(sorted(names))

    def numeric_fields(self) -> tuple[str, ...]:
        """Fields read as numbers: detector fields of functions of numbers and the summary count field."""
        names = {self.summary_count_field_name, *(d.field_name for d in self.detectors if not _reads_text(d.function))}
        names.discard("")
        return tuple(sorted(names))

    def string_fields(self) -> tuple[str, ...]:
        """Fields read as strings: split fields, influencers and detector fields of functions of text."""
        names = set(self.influencers)
        for d in self.detectors:
            names.update((d.by_field_name, d.over_field_name, d.partition_field_name))
            if _reads_text(d.function):
                names.add(d.field_name)
        names.discard("")
        return tuple(sorted(names))

    def point_fields(self) -> tuple[str, ...]:
        """Fields read as "lat,lon" locations (lat_long), which also take a {"lat", "lon"} object."""
        return tuple(sorted({d.field_name for d in self.detectors if _reads(d.function) == "location"}))

    def analysis_spec(self) -> AnalysisSpec:
        """The analysis as the engine takes it."""
        return AnalysisSpec(
            bucket_span_ms=self.bucket_span_ms,
            latency_ms=self.latency_ms,
            detectors=tuple(
                DetectorSpec(
                    function=d.function,
                    field_name=d.field_name,
                    by_field_name=d.by_field_name,
                    over_field_name=d.over_field_name,
                    partition_field_name=d.partition_field_name,
                    use_null=d.use_null,
                    exclude_frequent=d.exclude_frequent,
                    description=d.detector_description,
                )
                for d in self.detectors
            ),
            influencers=self.influencers,
            summary_count_field_name=self.summary_count_field_name,
            model_memory_limit_bytes=self.model_memory_limit_mb << 20,
        )


@dataclass(frozen=True)
class JobUpdate:
    """What an UpdateJob changes (Elasticsearch's JobUpdate).

    Attributes:
        changes: JobConfig field names and their new values; only those in UPDATABLE.
        detector_descriptions: new descriptions by detector index ("" for the default one).
    """

    changes: dict[str, object]
    detector_descriptions: dict[int, str]


# The JobConfig fields an update may change: Elasticsearch's JobUpdate less what anomalyd lacks
# (model_plot_config, custom_rules, datafeeds).
UPDATABLE = frozenset({
    "description", "groups", "model_memory_limit_mb", "background_persist_interval_s", "results_retention_days",
    "model_snapshot_retention_days", "daily_model_snapshot_retention_after_days", "renormalization_window_days",
    "custom_settings", "allow_lazy_open",
})


def parse_memory_limit(text: str) -> int:
    """A model_memory_limit in whole MB: "1024mb", "2gb", "1.5gb", "512" (MB).

    As Elasticsearch's ByteSizeValue reads it: a fraction counts bytes (1.5gb is 1536mb), which
    are then cut to whole MB.

    Raises:
        ValueError: the text is not a size from 1 MB to MAX_MODEL_MEMORY_LIMIT_MB.
    """
    match = _SIZE.fullmatch(text.lower())
    unit = match.group(2) if match else ""
    if not match or (unit and unit not in _BYTE_UNITS):
        raise ValueError(f"model_memory_limit {text!r} is not a size such as 1024mb, 1.5gb or 2gb")
    amount = float(match.group(1))
    megabytes = amount * _BYTE_UNITS[unit] / (1 << 20) if unit else amount
    if not (math.isfinite(megabytes) and 1 <= megabytes < MAX_MODEL_MEMORY_LIMIT_MB + 1):
        raise ValueError(f"model_memory_limit {text!r} is not from 1mb to {MAX_MODEL_MEMORY_LIMIT_MB >> 10}gb")
    return int(megabytes)


def validate(config: JobConfig) -> JobConfig:
    """The config with defaults filled in, or InvalidJobConfig naming every violation."""
    violations = _count_violations(config)
    if violations:  # the checks below visit every element: refuse oversized lists first
        raise _invalid(config, violations)
    check_id(config.job_id, "job_id", violations)
    for i, group in enumerate(config.groups):
        check_id(group, f"groups[{i}]", violations)
    if not 0 < config.bucket_span_s <= MAX_BUCKET_SPAN_S:
        violations.append(("analysis_config.bucket_span", f"bucket_span must be a whole number of seconds from 1 to {MAX_BUCKET_SPAN_S} (7 days)"))
    elif not 0 <= config.latency_s <= MAX_LATENCY_BUCKETS * config.bucket_span_s:
        violations.append(("analysis_config.latency", f"latency must be from 0 to {MAX_LATENCY_BUCKETS} bucket spans"))
    if not config.detectors:
        violations.append(("analysis_config.detectors", "at least one detector is required"))
    detectors = tuple(
        _validate_detector(d, f"analysis_config.detectors[{i}]", config, violations)
        for i, d in enumerate(config.detectors)
    )
    _check_duplicate_detectors(detectors, violations)
    for i, name in enumerate(config.influencers):
        _check_field_name(name, f"analysis_config.influencers[{i}]", violations)
    if config.summary_count_field_name:
        _check_field_name(config.summary_count_field_name, "analysis_config.summary_count_field_name", violations)
        if any(d.function == "metric" for d in config.detectors):
            violations.append(("analysis_config.summary_count_field_name", "summary_count_field_name cannot be used with the metric function"))
    if not config.time_field:
        violations.append(("data_description.time_field", "time_field must not be empty"))
    elif config.time_field in config.analysis_fields():
        violations.append(("data_description.time_field", f"time field {config.time_field!r} cannot also be an analysis field"))
    try:
        time_parser(config.time_format)
    except ValueError as err:
        violations.append(("data_description.time_format", str(err)))
    _check_nested_clashes(config, violations)
    # As in Elasticsearch, 0 results retention days keeps the newest bucket's results only.
    if config.results_retention_days is not None and not 0 <= config.results_retention_days <= MAX_DAYS:
        violations.append(("results_retention_days", f"results_retention_days must be from 0 to {MAX_DAYS}"))
    if config.renormalization_window_days is not None and not 1 <= config.renormalization_window_days <= MAX_DAYS:
        violations.append(("renormalization_window_days", f"renormalization_window_days must be from 1 to {MAX_DAYS}"))
    for name, value in (("model_snapshot_retention_days", config.model_snapshot_retention_days),
                        ("daily_model_snapshot_retention_after_days", config.daily_model_snapshot_retention_after_days)):
        if not 0 <= value <= MAX_DAYS:
            violations.append((name, f"{name} must be from 0 to {MAX_DAYS}"))
    if config.daily_model_snapshot_retention_after_days > config.model_snapshot_retention_days:
        violations.append(("daily_model_snapshot_retention_after_days", "daily_model_snapshot_retention_after_days cannot exceed model_snapshot_retention_days"))
    if not MIN_PERSIST_INTERVAL_S <= config.background_persist_interval_s <= MAX_PERSIST_INTERVAL_S:
        violations.append(("background_persist_interval", "background_persist_interval must be from 1h to 7d"))
    if violations:
        raise _invalid(config, violations)
    return msgspec.structs.replace(config, detectors=detectors)


def _count_violations(config: JobConfig) -> list[tuple[str, str]]:
    violations = []
    for field, items, limit in (
        ("analysis_config.detectors", config.detectors, MAX_DETECTORS),
        ("analysis_config.influencers", config.influencers, MAX_INFLUENCERS),
        ("groups", config.groups, MAX_GROUPS),
    ):
        if len(items) > limit:
            violations.append((field, f"{len(items)} {field.rpartition('.')[2]} are more than the limit of {limit}"))
    return violations


def _invalid(config: JobConfig, violations: list[tuple[str, str]]) -> InvalidJobConfig:
    field, message = violations[0]
    more = f" (and {len(violations) - 1} more)" if len(violations) > 1 else ""
    return InvalidJobConfig(
        f"invalid job config: {field}: {message}{more}",
        field_violations=tuple(violations),
        jobId=config.job_id,
        field=field,
    )


def check_id(value: str, field: str, violations: list[tuple[str, str]]) -> None:
    """Add a violation unless value is a valid job or group id."""
    if value == "_all":
        violations.append((field, "'_all' is reserved and cannot be used as an id"))
    elif len(value) > MAX_ID_LENGTH:
        violations.append((field, f"{value!r} is longer than {MAX_ID_LENGTH} characters"))
    elif not JOB_ID_PATTERN.fullmatch(value):
        violations.append((field, f"{value!r} must contain only lowercase alphanumerics, '-', '_' and '.', and start and end with an alphanumeric"))


def _validate_detector(d: DetectorConfig, path: str, config: JobConfig, violations: list[tuple[str, str]]) -> DetectorConfig:
    rule = FUNCTIONS.get(d.function)
    if rule is None:
        violations.append((f"{path}.function", f"unknown function {d.function!r}; known functions are {', '.join(sorted(FUNCTIONS))}"))
        return d
    if rule.field and not d.field_name:
        violations.append((f"{path}.field_name", f"function {d.function!r} requires field_name"))
    if not rule.field and d.field_name:
        violations.append((f"{path}.field_name", f"function {d.function!r} does not take field_name"))
    if rule.by_required and not d.by_field_name:
        violations.append((f"{path}.by_field_name", f"function {d.function!r} requires by_field_name"))
    if rule.over_required and not d.over_field_name:
        violations.append((f"{path}.over_field_name", f"function {d.function!r} requires over_field_name"))
    if rule.over_forbidden and d.over_field_name:
        violations.append((f"{path}.over_field_name", f"function {d.function!r} does not take over_field_name"))
    splits = [s for s in (d.by_field_name, d.over_field_name, d.partition_field_name) if s]
    if len(set(splits)) != len(splits):
        violations.append((path, "by_field_name, over_field_name and partition_field_name must differ"))
    for name in ("field_name", "by_field_name", "over_field_name", "partition_field_name"):
        value = getattr(d, name)
        if value:
            _check_field_name(value, f"{path}.{name}", violations)
    for name in ("by_field_name", "over_field_name"):
        if getattr(d, name) in ("count", "by", "over"):
            violations.append((f"{path}.{name}", f"{name} cannot be {getattr(d, name)!r}"))
    exclude_frequent = d.exclude_frequent.lower()
    if exclude_frequent and exclude_frequent not in EXCLUDE_FREQUENT:
        violations.append((f"{path}.exclude_frequent", f"{d.exclude_frequent!r} is not one of {', '.join(EXCLUDE_FREQUENT)}"))
    d = msgspec.structs.replace(d, exclude_frequent=exclude_frequent)
    return d if d.detector_description else msgspec.structs.replace(d, detector_description=describe(d))


def describe(d: DetectorConfig) -> str:
    """The description Elasticsearch generates (DefaultDetectorDescription).

    Field names that are not words are quoted; use_null shows before the partition field, and
    exclude_frequent last.

    >>> describe(DetectorConfig("mean", "response time", by_field_name="airline", use_null=True))
    'mean("response time") by airline usenull=true'
    """
    text = _FULL_NAMES.get(d.function, d.function)
    if d.field_name:
        text += f"({_quoted(d.field_name)})"
    if d.by_field_name:
        text += f" by {_quoted(d.by_field_name)}"
    if d.over_field_name:
        text += f" over {_quoted(d.over_field_name)}"
    if d.use_null:
        text += " usenull=true"
    if d.partition_field_name:
        text += f" partitionfield={_quoted(d.partition_field_name)}"
    if d.exclude_frequent:
        text += f" excludefrequent={d.exclude_frequent}"
    return text


def _quoted(name: str) -> str:
    """A field name as a description writes it: as it is if a word, else quoted with escapes."""
    if not _NEEDS_QUOTING.search(name):
        return name
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _check_duplicate_detectors(detectors: tuple[DetectorConfig, ...], violations: list[tuple[str, str]]) -> None:
    """Elasticsearch refuses a detector equal to an earlier one, description included."""
    seen: set[tuple[object, ...]] = set()
    for i, d in enumerate(detectors):
        key = (_FULL_NAMES.get(d.function, d.function), d.field_name, d.by_field_name, d.over_field_name,
               d.partition_field_name, d.use_null, d.exclude_frequent, d.detector_description)
        if key in seen:
            violations.append((f"analysis_config.detectors[{i}]", f"Duplicate detectors are not allowed: [{d.detector_description}]"))
        seen.add(key)


def _check_field_name(name: str, field: str, violations: list[tuple[str, str]]) -> None:
    if _FORBIDDEN_FIELD_CHARS.search(name):
        violations.append((field, f"field name {name!r} must not contain '\"', '\\\\' or control characters"))
    elif "" in name.split("."):
        # "." is Elasticsearch's control field; no document has a path with an empty segment.
        violations.append((field, f"field name {name!r} must not be '.' nor have an empty segment between dots"))


def _check_nested_clashes(config: JobConfig, violations: list[tuple[str, str]]) -> None:
    names = set(config.analysis_fields())
    for name in sorted(names):
        parts = name.split(".")
        for i in range(1, len(parts)):
            parent = ".".join(parts[:i])
            if parent in names:
                violations.append(("analysis_config", f"fields {parent!r} and {name!r} clash: one is nested in the other"))
