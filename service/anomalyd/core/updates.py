"""Updating and resetting jobs, as Elasticsearch's update and reset job APIs do."""

from __future__ import annotations

import msgspec

from anomalyd.core import config as job_config
from anomalyd.core.config import JobConfig, JobUpdate
from anomalyd.core.domain import JobState, JobStatus
from anomalyd.core.errors import InvalidJobConfig, JobOpen
from anomalyd.core.job_tasks import RESET
from anomalyd.core.jobs import JobManager


class JobUpdates:
    """UpdateJob and ResetJob on the jobs of a JobManager."""

    def __init__(self, jobs: JobManager) -> None:
        self._jobs = jobs
        self._repository = jobs.repository

    def update(self, job_id: str, update: JobUpdate) -> JobConfig:
        """Change a job's updatable fields; an open job takes them when it next opens.

        Raises:
            JobNotFound: there is no such job.
            JobDeleting, JobResetting: the job is being deleted or reset.
            JobOpen: the update changes analysis_limits of a job that is not closed.
            InvalidJobConfig: a detector index that does not exist, a memory limit below the
                model's size, or a value validate() refuses.
            JobAndGroupNamesMustBeUnique: a new group is a job's id.
        """
        unknown = sorted(set(update.changes) - job_config.UPDATABLE)
        if unknown:
            raise InvalidJobConfig(f"{', '.join(unknown)} cannot be updated", jobId=job_id)
        with self._jobs.transition(job_id) as status:
            config = self._repository.job(job_id)
            limit = update.changes.get("model_memory_limit_mb", config.model_memory_limit_mb)
            if isinstance(limit, int) and limit != config.model_memory_limit_mb:
                self._check_limit(job_id, status, limit)
            detectors = list(config.detectors)
            for index, description in update.detector_descriptions.items():
                if not 0 <= index < len(detectors):
                    field = "analysis_config.detectors.detector_index"
                    message = f"job {job_id!r} has no detector with index {index}"
                    raise InvalidJobConfig(message, field_violations=((field, message),), jobId=job_id)
                detectors[index] = msgspec.structs.replace(detectors[index], detector_description=description)
            updated = job_config.validate(msgspec.structs.replace(config, detectors=tuple(detectors), **update.changes))
            self._repository.update_job(updated)
            return updated

    def _check_limit(self, job_id: str, status: JobStatus, limit_mb: int) -> None:
        """Elasticsearch changes model_memory_limit only while the job is closed, and never below its model's size."""
        if status.state != JobState.CLOSED:
            raise JobOpen(
                f"job {job_id!r} is {status.state}; close it before updating analysis_limits",
                jobId=job_id, state=status.state,
            )
        used = 0 if status.model_size is None else status.model_size.model_bytes
        if limit_mb << 20 < used:
            field = "analysis_limits.model_memory_limit"
            message = (f"model_memory_limit cannot be decreased below current usage; current usage [{used >> 20}mb], "
                       f"update had [{limit_mb}mb]")
            raise InvalidJobConfig(message, field_violations=((field, message),), jobId=job_id)

    def reset(self, job_id: str, *, wait_for_completion: bool) -> str | None:
        """Reset a closed job: results, snapshots, state and counts go, the configuration stays.

        It runs as a task, range by range like a delete (other jobs write between), resumed if
        the server stops; meanwhile the job refuses other changes with JobResetting.

        Returns:
            The id of the reset's task when not waiting, else None.

        Raises:
            JobNotFound, JobDeleting, JobOpen: the job cannot be reset.
        """
        tasks = self._jobs.tasks
        with self._jobs.transition(job_id) as status:  # a reset under way raises JobResetting
            if status.state != JobState.CLOSED:
                raise JobOpen(
                    f"Can only reset a job when it is closed; job {job_id!r} is {status.state}",
                    jobId=job_id,
                    state=status.state,
                )
            running = tasks.start(RESET, job_id, status)
        return tasks.finish(running, wait_for_completion)
