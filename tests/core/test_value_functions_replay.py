"""Replay gives the live job for the functions of text and time too (see test_journal_replay.py).

lat_long's state round trip is tests/engine/test_value_functions.py's: these steps send numbers.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import settings
from hypothesis.stateful import RuleBasedStateMachine

from anomalyd.core.config import DetectorConfig, JobConfig
from tests.core.harness import CONFIG, T0, Harness
from tests.core.test_journal_replay import JobSteps

VALUE_CONFIG = JobConfig(
    "values",
    detectors=(
        DetectorConfig("dc", field_name="value", by_field_name="host"),
        DetectorConfig("high_info_content", field_name="value"),
        DetectorConfig("time_of_day", by_field_name="host"),
        DetectorConfig("time_of_week"),
        DetectorConfig("time_of_day", over_field_name="host"),
    ),
    bucket_span_s=CONFIG.bucket_span_s,
    influencers=("host",),
    time_format="epoch_ms",
)


class ValueJobSteps(JobSteps):
    """JobSteps over a job of distinct_count, info_content, time_of_day (by and over) and time_of_week detectors."""

    def __init__(self) -> None:
        RuleBasedStateMachine.__init__(self)
        self.directory = tempfile.TemporaryDirectory()
        self.job = Harness(Path(self.directory.name), VALUE_CONFIG)
        self.now = T0


TestValueJobSteps = ValueJobSteps.TestCase
TestValueJobSteps.settings = settings(max_examples=25, stateful_step_count=12, deadline=None)
