"""time_format through the real server: Java patterns as Elasticsearch ML reads them, refused at PutJob or read at upload."""

from __future__ import annotations

import datetime as dt

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from anomalyd.v1 import job_pb2
from anomalyd.v1 import job_service_pb2 as pb
from tests.conftest import error_reason, job

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def ms(*args: int) -> int:
    return (dt.datetime(*args, tzinfo=dt.UTC) - EPOCH) // dt.timedelta(milliseconds=1)


def open_job(stub, job_id: str, time_format: str) -> None:
    description = job_pb2.DataDescription(time_field="@timestamp", time_format=time_format)
    stub.PutJob(pb.PutJobRequest(job=job(job_id, job_pb2.Detector(function="mean", field_name="value"), data_description=description)), timeout=10)
    stub.OpenJob(pb.OpenJobRequest(job_id=job_id), timeout=10)


def upload(stub, job_id: str, *times: object) -> pb.PostDataResponse:
    import json

    data = b"".join(json.dumps({"@timestamp": t, "value": 1}).encode() + b"\n" for t in times)
    return stub.PostData(iter([pb.PostDataRequest(job_id=job_id, data=data)]), timeout=30).data_counts


def read_each(stub, job_id: str, *times: str) -> list[int | None]:
    """The epoch ms each value was read as, one upload per value (in time order), None if invalid."""
    found = []
    for value in times:
        counts = upload(stub, job_id, value)
        found.append(counts.latest_record_timestamp.ToMilliseconds() if counts.processed_record_count else None)
    return found


def test_nine_fraction_digits_are_read_to_the_millisecond_and_bad_values_are_invalid_dates(stub):
    # The strptime translation this replaced turned SSSSSSSSS into %f%f: PutJob passed, every upload failed INTERNAL.
    open_job(stub, "nanos", "yyyy-MM-dd'T'HH:mm:ss.SSSSSSSSSXXX")
    counts = upload(stub, "nanos", "2024-03-05T12:34:56.123456789+01:00", "2024-03-05T12:40:00.9Z", "2024-03-05T12:41:00Z",
                    "not a date", 20240305, None, "2024-02-30T00:00:00.000000000+25:00", "2024-03-05T12:34:56.123456789+01:00\n")
    assert (counts.processed_record_count, counts.invalid_date_count) == (2, 6)
    assert counts.earliest_record_timestamp.ToMilliseconds() == ms(2024, 3, 5, 11, 34, 56) + 123
    assert counts.latest_record_timestamp.ToMilliseconds() == ms(2024, 3, 5, 12, 40) + 900


def test_text_months_with_a_year_or_the_current_one(stub):
    open_job(stub, "apache", "dd/MMM/yyyy:HH:mm:ss Z")
    assert read_each(stub, "apache", "10/Oct/2000:13:55:36 -0700", "11/October/2000:00:00:00 +0000", "12/oct/2000:00:00:00 +0000") == [
        ms(2000, 10, 10, 20, 55, 36), ms(2000, 10, 11), None,
    ]
    # Syslog has no year: Elasticsearch takes the current one (in UTC).
    open_job(stub, "syslog", "MMM dd HH:mm:ss")
    year = dt.datetime.now(dt.UTC).year
    assert read_each(stub, "syslog", "Jan 02 03:04:05", "Feb 29 00:00:00" if year % 4 else "Feb 29 12:00:00") == [
        ms(year, 1, 2, 3, 4, 5), ms(year, 2, 28 if year % 4 else 29, 0 if year % 4 else 12),
    ]


def test_zone_names_and_ids_follow_their_regions(stub):
    open_job(stub, "zones", "yyyy-MM-dd HH:mm:ss zzz")
    assert read_each(
        stub, "zones",
        "2024-01-01 12:00:00 PST",  # America/Los_Angeles in winter: -08:00
        "2024-07-01 12:00:00 PST",  # and in summer: -07:00
        "2024-07-02 12:00:00 EST",  # java.time's SHORT_IDS: -05:00 all year
        "2024-07-03 12:00:00 Europe/London",
        "2024-07-04 12:00:00 UTC",
        "2024-07-05 12:00:00 Atlantis/Capital",
    ) == [ms(2024, 1, 1, 20), ms(2024, 7, 1, 19), ms(2024, 7, 2, 17), ms(2024, 7, 3, 11), ms(2024, 7, 4, 12), None]
    open_job(stub, "zone-ids", "yyyy-MM-dd'T'HH:mm:ss.SSS VV")
    assert read_each(stub, "zone-ids", "2024-07-01T12:00:00.250 Asia/Kolkata", "2024-07-01T12:00:00.250 PST") == [
        ms(2024, 7, 1, 6, 30) + 250, None,
    ]


def test_patterns_java_time_cannot_read_back_are_refused_at_put_job(stub):
    for pattern in (
        "yyyy-MM-dd HH:ss",  # seconds without minutes: java.time makes no time of it
        "yyyy-MM-dd hh:mm:ss",  # a 12-hour clock without AM/PM
        "yyyy-MM-dd HH:mm:ss aa",  # too many pattern letters
        "yyyy-MM-dd'T'HH:mm:ss.SSSSSSSSSS",  # ten fraction digits
        "YYYY-MM-dd HH:mm:ss",  # week-based year
        "yyyy-MM-dd'T'HH:mm:ss'Z",  # an unterminated literal
        "dd/MM/yyyy",  # no time of day
    ):
        with pytest.raises(grpc.RpcError) as err:
            stub.PutJob(pb.PutJobRequest(job=job("refused", data_description=job_pb2.DataDescription(time_format=pattern))), timeout=10)
        assert (err.value.code(), error_reason(err.value)) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_JOB_CONFIG"), pattern
        bad = error_details_pb2.BadRequest()
        next(d for d in rpc_status.from_call(err.value).details if d.Is(bad.DESCRIPTOR)).Unpack(bad)
        assert [v.field for v in bad.field_violations] == ["data_description.time_format"], pattern
    assert stub.GetJobs(pb.GetJobsRequest(), timeout=10).count == 0
