"""A Pythonic client for anomalyd's JobService and ResultsService.

Responses come back as plain dicts keyed by the contract's (Elasticsearch's) field names; see
convert.to_dict for how values are mapped. Every failure raises AnomalydError.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from types import TracebackType
from typing import Any, Self

import grpc
from google.protobuf import duration_pb2
from google.protobuf.message import Message
from grpc_health.v1 import health_pb2, health_pb2_grpc
from numpy.typing import ArrayLike

from anomalyd.v1 import (
    column_batch_pb2,
    job_pb2,
    job_service_pb2,
    job_service_pb2_grpc,
    results_service_pb2,
    results_service_pb2_grpc,
)
from anomalyd_client.convert import (
    Duration,
    Instant,
    duration_message,
    timestamp_message,
    to_dict,
)
from anomalyd_client.detector import Detector
from anomalyd_client.errors import AnomalydError
from anomalyd_client.upload import (
    DEFAULT_CHUNK_BYTES,
    DataSource,
    Progress,
    column_batch,
    data_chunks,
    source_size,
    track,
)

DEFAULT_TARGET = "127.0.0.1:50051"
Document = dict[str, Any]
DetectorSpec = Detector | Mapping[str, Any] | str
"""A Detector, a dict of its fields, or its shorthand ("mean(responsetime) by airline")."""

# Added to a server-side wait (open or close timeout) so the server's own DEADLINE_EXCEEDED,
# with its reason, arrives before the client gives up on the call.
_DEADLINE_MARGIN_S = 10.0


class Client:
    """A connection to an anomalyd server.

    Example:
        >>> with Client("127.0.0.1:50051") as client:  # doctest: +SKIP
        ...     client.put_job("web", detectors=["mean(responsetime) by airline"])
        ...     client.open_job("web")
        ...     counts = client.post_data("web", "data.ndjson")
        ...     client.close_job("web")

    Args:
        target: host:port of the server.
        timeout: the deadline of each unary call in seconds (stretched past an open or close
            timeout); None waits forever. PostData streams have no deadline.
        tls: connect with TLS, trusting the system's CA certificates unless ca_file is given.
            Giving any of the three files implies it.
        ca_file: PEM CA certificates to verify the server's certificate with.
        cert_file: PEM client certificate, for a server that requires one (mutual TLS).
        key_file: the PEM private key of cert_file.
        api_key: the credential that `anomalyd keys create` printed, sent with every call as
            "authorization: ApiKey <credential>".

    Raises:
        OSError: a certificate or key file cannot be read.
        ValueError: only one of cert_file and key_file is given.
    """

    def __init__(
        self,
        target: str = DEFAULT_TARGET,
        *,
        timeout: float | None = 60.0,
        tls: bool = False,
        ca_file: str | os.PathLike[str] | None = None,
        cert_file: str | os.PathLike[str] | None = None,
        key_file: str | os.PathLike[str] | None = None,
        api_key: str | None = None,
    ) -> None:
        self.target = target
        self.timeout = timeout
        if (cert_file is None) != (key_file is None):
            raise ValueError("a client certificate needs its key, and a key its certificate")
        if tls or ca_file is not None or cert_file is not None:
            credentials = grpc.ssl_channel_credentials(
                root_certificates=_read(ca_file), private_key=_read(key_file), certificate_chain=_read(cert_file)
            )
            self._channel = grpc.secure_channel(target, credentials)
        else:
            self._channel = grpc.insecure_channel(target)
        # Per-call metadata rather than call credentials, which gRPC sends over TLS only: a key
        # also works against a plaintext server on localhost.
        self._metadata = () if api_key is None else (("authorization", f"ApiKey {api_key}"),)
        self._stub = job_service_pb2_grpc.JobServiceStub(self._channel)
        self._results = results_service_pb2_grpc.ResultsServiceStub(self._channel)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Closes the channel."""
        self._channel.close()

    def health(self, service: str = "") -> str:
        """The grpc.health.v1 status of the server (or one service): "SERVING", "NOT_SERVING"..."""
        stub = health_pb2_grpc.HealthStub(self._channel)  # type: ignore[no-untyped-call]  # grpcio-health-checking has no types
        response = self._invoke(stub.Check, health_pb2.HealthCheckRequest(service=service))
        return str(health_pb2.HealthCheckResponse.ServingStatus.Name(response.status))

    def put_job(
        self,
        job_id: str,
        *,
        detectors: Iterable[DetectorSpec],
        bucket_span: Duration = "5m",
        influencers: Iterable[str] = (),
        description: str = "",
        groups: Iterable[str] = (),
        latency: Duration | None = None,
        summary_count_field_name: str = "",
        time_field: str = "time",
        time_format: str = "epoch",
        model_memory_limit: str | int | None = None,
        results_retention_days: int | None = None,
        model_snapshot_retention_days: int | None = None,
        daily_model_snapshot_retention_after_days: int | None = None,
        renormalization_window_days: int | None = None,
        background_persist_interval: Duration | None = None,
    ) -> Document:
        """Creates a job, closed. Arguments left None take the server's defaults.

        Args:
            job_id: lowercase alphanumerics, '-', '_' and '.', at most 64 characters.
            detectors: at least one.
            bucket_span: a whole number of seconds.
            influencers: fields scored as influencers.
            description: free text.
            groups: groups the job belongs to.
            latency: how long to wait for late data.
            summary_count_field_name: the field holding a pre-aggregated document's count.
            time_field: the field holding each document's time.
            time_format: "epoch" (seconds), "epoch_ms" or a Java DateTimeFormatter pattern.
            model_memory_limit: such as "512mb" or "2gb"; a number is MB.
            results_retention_days: days of results to keep.
            model_snapshot_retention_days: days of model snapshots to keep.
            daily_model_snapshot_retention_after_days: days after which one snapshot a day
                is kept.
            renormalization_window_days: days within which scores are renormalised.
            background_persist_interval: how often an open job persists its model.

        Returns:
            The job as stored, with defaults filled in.

        Raises:
            ValueError: a span or detector shorthand cannot be read.
            AnomalydError: INVALID_JOB_CONFIG (see field_violations), JOB_ALREADY_EXISTS or
                JOB_AND_GROUP_NAMES_MUST_BE_UNIQUE.
        """
        job = job_pb2.Job(
            job_id=job_id,
            description=description,
            groups=groups,
            analysis_config=job_pb2.AnalysisConfig(
                bucket_span=duration_message(bucket_span),
                detectors=[_detector(d).to_proto() for d in detectors],
                influencers=influencers,
                latency=duration_message(latency),
                summary_count_field_name=summary_count_field_name,
            ),
            data_description=job_pb2.DataDescription(
                time_field=time_field, time_format=time_format
            ),
            results_retention_days=results_retention_days,
            model_snapshot_retention_days=model_snapshot_retention_days,
            daily_model_snapshot_retention_after_days=daily_model_snapshot_retention_after_days,
            renormalization_window_days=renormalization_window_days,
            background_persist_interval=duration_message(background_persist_interval),
            analysis_limits=None
            if model_memory_limit is None
            else job_pb2.AnalysisLimits(model_memory_limit=str(model_memory_limit)),
        )
        response = self._invoke(self._stub.PutJob, job_service_pb2.PutJobRequest(job=job))
        return to_dict(response.job)

    def get_jobs(self, expr: str = "", *, allow_no_match: bool | None = None) -> list[Document]:
        """The configurations of the jobs matching an id, group, comma list or wildcard.

        Raises:
            AnomalydError: JOB_NOT_FOUND when allow_no_match is False and a part matches
                nothing.
        """
        request = job_service_pb2.GetJobsRequest(job_id=expr, allow_no_match=allow_no_match)
        return [to_dict(job) for job in self._invoke(self._stub.GetJobs, request).jobs]

    def get_job_stats(
        self, expr: str = "", *, allow_no_match: bool | None = None
    ) -> list[Document]:
        """State, lifetime data counts and model size of the jobs matching an expression.

        Raises:
            AnomalydError: JOB_NOT_FOUND as for get_jobs.
        """
        request = job_service_pb2.GetJobStatsRequest(job_id=expr, allow_no_match=allow_no_match)
        return [to_dict(stats) for stats in self._invoke(self._stub.GetJobStats, request).jobs]

    def open_job(self, job_id: str, *, timeout: Duration | None = None) -> Document:
        """Opens a job so that it takes data; returns {"opened", "node"}.

        Args:
            job_id: the job.
            timeout: how long the server waits for the job to open (default 30 minutes).

        Raises:
            AnomalydError: JOB_NOT_FOUND; a FAILED_PRECONDITION reason when it is already
                open, failed or deleting.
        """
        wait = duration_message(timeout)
        request = job_service_pb2.OpenJobRequest(job_id=job_id, timeout=wait)
        return to_dict(self._invoke(self._stub.OpenJob, request, wait))

    def post_data(
        self,
        job_id: str,
        source: DataSource,
        *,
        chunk_bytes: int = DEFAULT_CHUNK_BYTES,
        reset_start: Instant | None = None,
        reset_end: Instant | None = None,
        progress: Callable[[Progress], None] | None = None,
    ) -> Document:
        """Streams JSON documents into an open job, in messages of about chunk_bytes.

        Args:
            job_id: the job, which must be open.
            source: a path (str or PathLike) to a file of JSON documents, bytes, a file
                object, an iterable of byte chunks, or an iterable of dict records (sent as
                NDJSON).
            chunk_bytes: the data bytes per message.
            reset_start: start of a range of buckets to reset so their data can be resent.
            reset_end: end of that range; the server defaults it to reset_start + 1 s.
            progress: called after each message with how far the upload has got.

        Returns:
            The DataCounts of this upload.

        Raises:
            OSError: the source cannot be read.
            TypeError: a record cannot be encoded as JSON.
            AnomalydError: JOB_NOT_FOUND, JOB_NOT_OPEN, DATA_STREAM_ACTIVE, CHUNK_TOO_LARGE...
        """
        chunks = data_chunks(source, chunk_bytes)
        if progress is not None:
            chunks = track(chunks, source_size(source), progress)
        messages = (job_service_pb2.PostDataRequest(data=chunk) for chunk in chunks)
        return self._post(job_id, messages, reset_start, reset_end)

    def post_columns(
        self,
        job_id: str,
        batches: Iterable[column_batch_pb2.ColumnBatch | Mapping[str, ArrayLike]],
        *,
        time_field: str = "time",
        reset_start: Instant | None = None,
        reset_end: Instant | None = None,
    ) -> Document:
        """Streams columnar batches into an open job, one message per batch.

        Args:
            job_id: the job, which must be open.
            batches: ColumnBatch messages, or dicts of arrays for upload.column_batch.
            time_field: the time column of dict batches.
            reset_start: as for post_data.
            reset_end: as for post_data.

        Returns:
            The DataCounts of this upload.

        Raises:
            AnomalydError: as post_data, and INVALID_ARGUMENT for an inconsistent batch.
        """
        messages = (
            job_service_pb2.PostDataRequest(
                columns=batch
                if isinstance(batch, column_batch_pb2.ColumnBatch)
                else column_batch(batch, time_field=time_field)
            )
            for batch in batches
        )
        return self._post(job_id, messages, reset_start, reset_end)

    def flush_job(
        self,
        job_id: str,
        *,
        calc_interim: bool = False,
        start: Instant | None = None,
        end: Instant | None = None,
        advance_time: Instant | None = None,
        skip_time: Instant | None = None,
    ) -> Document:
        """Processes buffered data; returns {"flushed", "last_finalized_bucket_end"}.

        Args:
            job_id: the job, which must be open.
            calc_interim: compute interim results for the open bucket(s).
            start: with calc_interim, the start of the interim range.
            end: with calc_interim and start, its end (default: start plus one second).
            advance_time: finalise every bucket whose end plus the job's latency is at or
                before this time.
            skip_time: skip to this time without results for the gap.

        Raises:
            ValueError: a time cannot be read.
            AnomalydError: JOB_NOT_FOUND, JOB_NOT_OPEN, or INVALID_ARGUMENT for a bad range.
        """
        request = job_service_pb2.FlushJobRequest(
            job_id=job_id,
            calc_interim=calc_interim,
            start=timestamp_message(start),
            end=timestamp_message(end),
            advance_time=timestamp_message(advance_time),
            skip_time=timestamp_message(skip_time),
        )
        return to_dict(self._invoke(self._stub.FlushJob, request))

    def close_job(
        self,
        expr: str,
        *,
        force: bool = False,
        timeout: Duration | None = None,
        allow_no_match: bool | None = None,
    ) -> Document:
        """Closes the jobs matching an expression; returns {"closed", "job_ids"}.

        Args:
            expr: an id, group, comma list, wildcard, "_all" or "*".
            force: close without finishing buckets or persisting, aborting any upload.
            timeout: how long the server waits for the close (default 30 minutes).
            allow_no_match: whether matching nothing, or only part, is fine (default True).

        Raises:
            AnomalydError: JOB_NOT_FOUND, JOB_FAILED without force, DEADLINE_EXCEEDED.
        """
        wait = duration_message(timeout)
        request = job_service_pb2.CloseJobRequest(
            job_id=expr, force=force, timeout=wait, allow_no_match=allow_no_match
        )
        return to_dict(self._invoke(self._stub.CloseJob, request, wait))

    def delete_job(
        self,
        job_id: str,
        *,
        force: bool = False,
        wait_for_completion: bool = True,
        delete_user_annotations: bool = False,
    ) -> Document:
        """Deletes a job with its state and results.

        Returns:
            {"acknowledged": True, "task_id": ""} when waiting, else {"acknowledged": False,
            "task_id": ...} for get_task.

        Raises:
            AnomalydError: JOB_NOT_FOUND, or JOB_OPEN when the job is open and force is False.
        """
        request = job_service_pb2.DeleteJobRequest(
            job_id=job_id,
            force=force,
            wait_for_completion=wait_for_completion,
            delete_user_annotations=delete_user_annotations,
        )
        return to_dict(self._invoke(self._stub.DeleteJob, request))

    def update_job(
        self,
        job_id: str,
        *,
        description: str | None = None,
        groups: Iterable[str] | None = None,
        model_memory_limit: str | int | None = None,
        background_persist_interval: Duration | None = None,
        results_retention_days: int | None = None,
        model_snapshot_retention_days: int | None = None,
        daily_model_snapshot_retention_after_days: int | None = None,
        renormalization_window_days: int | None = None,
        custom_settings: Mapping[str, Any] | None = None,
        allow_lazy_open: bool | None = None,
        detector_descriptions: Mapping[int, str] | None = None,
    ) -> Document:
        """Changes the fields Elasticsearch's update job API changes; None leaves a field as it is.

        Args:
            job_id: the job.
            description: free text.
            groups: the job's groups, replacing the old ones.
            model_memory_limit: such as "512mb"; only while the job is closed, never below the
                model's size.
            background_persist_interval: how often an open job persists its model.
            results_retention_days: days of results to keep.
            model_snapshot_retention_days: days of model snapshots to keep.
            daily_model_snapshot_retention_after_days: days after which one snapshot a day
                is kept.
            renormalization_window_days: days within which scores are renormalised.
            custom_settings: the user's own metadata.
            allow_lazy_open: stored as Elasticsearch stores it.
            detector_descriptions: new descriptions by detector index ("" for the default).

        Returns:
            The job as stored after the update.

        Raises:
            AnomalydError: JOB_NOT_FOUND, INVALID_JOB_CONFIG, JOB_AND_GROUP_NAMES_MUST_BE_UNIQUE,
                JOB_OPEN (a memory limit while the job is open) or JOB_DELETING.
        """
        job = job_pb2.Job(
            job_id=job_id,
            description=description or "",
            groups=groups or (),
            results_retention_days=results_retention_days,
            model_snapshot_retention_days=model_snapshot_retention_days,
            daily_model_snapshot_retention_after_days=daily_model_snapshot_retention_after_days,
            renormalization_window_days=renormalization_window_days,
            background_persist_interval=duration_message(background_persist_interval),
            allow_lazy_open=bool(allow_lazy_open),
            analysis_limits=None
            if model_memory_limit is None
            else job_pb2.AnalysisLimits(model_memory_limit=str(model_memory_limit)),
        )
        if custom_settings is not None:
            job.custom_settings.update(custom_settings)
        for index, text in (detector_descriptions or {}).items():
            job.analysis_config.detectors.add(detector_index=index, detector_description=text)
        given = {
            "description": description, "groups": groups, "analysis_limits": model_memory_limit,
            "background_persist_interval": background_persist_interval,
            "results_retention_days": results_retention_days,
            "model_snapshot_retention_days": model_snapshot_retention_days,
            "daily_model_snapshot_retention_after_days": daily_model_snapshot_retention_after_days,
            "renormalization_window_days": renormalization_window_days,
            "custom_settings": custom_settings, "allow_lazy_open": allow_lazy_open,
            "analysis_config.detectors": detector_descriptions,
        }
        request = job_service_pb2.UpdateJobRequest(job=job)
        request.update_mask.paths.extend(path for path, value in given.items() if value is not None)
        return to_dict(self._invoke(self._stub.UpdateJob, request).job)

    def reset_job(self, job_id: str, *, wait_for_completion: bool = True) -> Document:
        """Deletes a closed job's results, model snapshots, state and counts, keeping its configuration.

        Returns:
            {"acknowledged": True, "task_id": ""} when waiting, else {"acknowledged": False,
            "task_id": ...} for get_task.

        Raises:
            AnomalydError: JOB_NOT_FOUND, JOB_OPEN when the job is not closed, or JOB_DELETING.
        """
        request = job_service_pb2.ResetJobRequest(job_id=job_id, wait_for_completion=wait_for_completion)
        return to_dict(self._invoke(self._stub.ResetJob, request))

    def get_task(self, task_id: str) -> Document:
        """A task started by a call that did not wait for completion.

        Raises:
            AnomalydError: NOT_FOUND for an unknown task.
        """
        request = job_service_pb2.GetTaskRequest(task_id=task_id)
        return to_dict(self._invoke(self._stub.GetTask, request).task)

    def get_buckets(
        self,
        job_id: str,
        *,
        timestamp: Instant | None = None,
        start: Instant | None = None,
        end: Instant | None = None,
        exclude_interim: bool = False,
        anomaly_score: float = 0.0,
        expand: bool = False,
        sort: str = "",
        desc: bool | None = None,
        from_: int = 0,
        size: int | None = None,
    ) -> Document:
        """A page of a job's buckets, oldest first unless sorted otherwise.

        Args:
            job_id: the job.
            timestamp: only the bucket starting at this time (not with start, end, from_,
                size or anomaly_score).
            start: buckets starting at or after this time.
            end: buckets starting before this time.
            exclude_interim: leave out interim buckets.
            anomaly_score: only buckets scoring at least this.
            expand: include each bucket's anomaly records.
            sort: timestamp (default) or any other field of a bucket.
            desc: sort descending (default False).
            from_: buckets to skip.
            size: buckets to return (default 100); 0 returns none, only the count.

        Returns:
            {"buckets": [...], "count": the number matching, over all pages}.

        Raises:
            AnomalydError: JOB_NOT_FOUND, BUCKET_NOT_FOUND (a timestamp that starts no
                bucket), or INVALID_ARGUMENT for a bad sort field or page.
        """
        request = results_service_pb2.GetBucketsRequest(
            job_id=job_id,
            timestamp=timestamp_message(timestamp),
            anomaly_score=anomaly_score,
            expand=expand,
            **_result_query(start, end, exclude_interim, sort, desc, from_, size),
        )
        return to_dict(self._invoke(self._results.GetBuckets, request))

    def get_records(
        self,
        job_id: str,
        *,
        start: Instant | None = None,
        end: Instant | None = None,
        exclude_interim: bool = False,
        record_score: float = 0.0,
        sort: str = "",
        desc: bool | None = None,
        from_: int = 0,
        size: int | None = None,
    ) -> Document:
        """A page of a job's anomaly records, highest record_score first unless sorted otherwise.

        Args:
            job_id: the job.
            start: records of buckets starting at or after this time.
            end: records of buckets starting before this time.
            exclude_interim: leave out interim records.
            record_score: only records scoring at least this.
            sort: record_score (default), timestamp, probability or initial_record_score.
            desc: sort descending (default True).
            from_: records to skip.
            size: records to return (default 100); 0 returns none, only the count.

        Returns:
            {"records": [...], "count": the number matching, over all pages}.

        Raises:
            AnomalydError: as get_buckets.
        """
        request = results_service_pb2.GetRecordsRequest(
            job_id=job_id,
            record_score=record_score,
            **_result_query(start, end, exclude_interim, sort, desc, from_, size),
        )
        return to_dict(self._invoke(self._results.GetRecords, request))

    def get_influencers(
        self,
        job_id: str,
        *,
        start: Instant | None = None,
        end: Instant | None = None,
        exclude_interim: bool = False,
        influencer_score: float = 0.0,
        sort: str = "",
        desc: bool | None = None,
        from_: int = 0,
        size: int | None = None,
    ) -> Document:
        """A page of a job's influencers, highest influencer_score first unless sorted otherwise.

        Args:
            job_id: the job.
            start: influencers of buckets starting at or after this time.
            end: influencers of buckets starting before this time.
            exclude_interim: leave out interim influencers.
            influencer_score: only influencers scoring at least this.
            sort: influencer_score (default), timestamp, probability or
                initial_influencer_score.
            desc: sort descending (default True).
            from_: influencers to skip.
            size: influencers to return (default 100); 0 returns none, only the count.

        Returns:
            {"influencers": [...], "count": the number matching, over all pages}.

        Raises:
            AnomalydError: as get_buckets.
        """
        request = results_service_pb2.GetInfluencersRequest(
            job_id=job_id,
            influencer_score=influencer_score,
            **_result_query(start, end, exclude_interim, sort, desc, from_, size),
        )
        return to_dict(self._invoke(self._results.GetInfluencers, request))

    def get_overall_buckets(
        self,
        expr: str = "",
        *,
        top_n: int = 1,
        bucket_span: Duration | None = None,
        overall_score: float = 0.0,
        exclude_interim: bool = False,
        start: Instant | None = None,
        end: Instant | None = None,
        allow_no_match: bool | None = None,
    ) -> Document:
        """Bucket scores combined over the jobs matching an expression, oldest first.

        Args:
            expr: an id, group, comma list, wildcard, "_all" or empty (all jobs).
            top_n: how many of the jobs' highest bucket scores to average, from 1.
            bucket_span: the overall bucket length; defaults to the jobs' longest span.
            overall_score: only overall buckets scoring at least this.
            exclude_interim: leave out interim buckets.
            start: overall buckets starting at or after this time.
            end: overall buckets starting before this time.
            allow_no_match: whether matching nothing is fine (default True).

        Returns:
            {"overall_buckets": [...], "count": their number}.

        Raises:
            AnomalydError: JOB_NOT_FOUND, or INVALID_ARGUMENT for a span below a job's or a
                top_n below 1.
        """
        request = results_service_pb2.GetOverallBucketsRequest(
            job_id=expr,
            top_n=top_n,
            top_n_jobs=top_n,
            bucket_span=duration_message(bucket_span),
            overall_score=overall_score,
            exclude_interim=exclude_interim,
            start=timestamp_message(start),
            end=timestamp_message(end),
            allow_no_match=allow_no_match,
        )
        return to_dict(self._invoke(self._results.GetOverallBuckets, request))

    def _invoke(
        self, method: Callable[..., Any], request: Message, wait: duration_pb2.Duration | None = None
    ) -> Any:
        deadline = self.timeout
        if deadline is not None and wait is not None:
            deadline = max(deadline, wait.ToTimedelta().total_seconds() + _DEADLINE_MARGIN_S)
        with _raising_anomalyd_errors():
            return method(request, timeout=deadline, metadata=self._metadata)

    def _post(
        self,
        job_id: str,
        messages: Iterator[job_service_pb2.PostDataRequest],
        reset_start: Instant | None,
        reset_end: Instant | None,
    ) -> Document:
        # Taking the first message here raises a bad source (a missing file, a record that is
        # not JSON-encodable) before the call starts.
        first = next(messages, job_service_pb2.PostDataRequest())
        first.MergeFrom(
            job_service_pb2.PostDataRequest(
                job_id=job_id,
                reset_start=timestamp_message(reset_start),
                reset_end=timestamp_message(reset_end),
            )
        )
        failures: list[Exception] = []

        def requests() -> Iterator[job_service_pb2.PostDataRequest]:
            yield first
            # grpc would log a failing source and report a bare CANCELLED; instead end the
            # stream and raise the source's own error below. Data sent so far stays accepted,
            # as it would after a cancel.
            try:
                yield from messages
            except Exception as error:
                failures.append(error)

        with _raising_anomalyd_errors():
            response = self._stub.PostData(requests(), metadata=self._metadata)
        if failures:
            raise failures[0]
        return to_dict(response.data_counts)


@contextlib.contextmanager
def _raising_anomalyd_errors() -> Iterator[None]:
    try:
        yield
    except grpc.RpcError as error:
        raise AnomalydError.from_rpc_error(error) from error


def _read(path: str | os.PathLike[str] | None) -> bytes | None:
    if path is None:
        return None
    with open(path, "rb") as f:
        return f.read()


def _detector(spec: DetectorSpec) -> Detector:
    if isinstance(spec, Detector):
        return spec
    if isinstance(spec, str):
        return Detector.parse(spec)
    return Detector(**spec)


def _result_query(
    start: Instant | None,
    end: Instant | None,
    exclude_interim: bool,
    sort: str,
    desc: bool | None,
    from_: int,
    size: int | None,
) -> dict[str, Any]:
    """The filter and page fields that GetBuckets, GetRecords and GetInfluencers share."""
    return {
        "start": timestamp_message(start),
        "end": timestamp_message(end),
        "exclude_interim": exclude_interim,
        "sort": sort,
        "desc": desc,
        # "from" is a Python keyword, so Page cannot take it as an argument name.
        "page": results_service_pb2.Page(**{"from": from_}, size=size or 0, count_only=size == 0),
    }
