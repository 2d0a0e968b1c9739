"""lat_long fields: "lat,lon" text, or a geo_point object flattened to field.lat and field.lon."""

from __future__ import annotations

from anomalyd.core.config import DetectorConfig, JobConfig, validate
from anomalyd.core.documents import flatten
from anomalyd.core.ingest import RecordReader

CONFIG = validate(JobConfig("geo", (DetectorConfig("lat_long", "loc", by_field_name="user"),)))


def test_a_geo_point_object_reads_as_lat_lon_text() -> None:
    documents = [{"time": 1, "user": "a", "loc": {"lat": 48.85, "lon": 2.35}}, {"time": 2, "user": "a", "loc": "1.5,2"}, {"time": 3}]
    parsed = RecordReader(CONFIG).read([record for d in documents if (record := flatten(d)) is not None])
    column = parsed.batch.strings["loc"]
    assert [column.values[c] if c >= 0 else None for c in column.codes] == ["48.85,2.35", "1.5,2", None]
    assert parsed.missing_field_count == 2  # the third lacks loc and user
