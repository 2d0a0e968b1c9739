"""Job deletes and resets as tasks: one thread a job, resumable after a restart, reported through GetTask."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import msgspec

from anomalyd.bucket_time import now_ms
from anomalyd.core.domain import JobState, JobStatus, Task
from anomalyd.core.errors import AnomalydError, TaskNotFound
from anomalyd.core.ingest import IngestState
from anomalyd.core.repository import Repository

log = logging.getLogger(__name__)


DELETE = "delete_job"
RESET = "reset_job"


class JobTasks:
    """The running deletes and resets of one server.

    Args:
        repository: where jobs and tasks live.
        lock: the manager's lock, held by the callers of running() and start().
        force_close: closes a job by force, whatever its state.
    """

    def __init__(self, repository: Repository, lock: threading.RLock, force_close: Callable[[str], None]) -> None:
        self._repository = repository
        self._lock = lock
        self._force_close = force_close
        self._running: dict[str, tuple[Task, threading.Event]] = {}

    def running(self, job_id: str) -> tuple[Task, threading.Event] | None:
        """The task of a delete or reset of the job under way and its end, or None."""
        return self._running.get(job_id)

    def start(self, action: str, job_id: str, status: JobStatus, task: Task | None = None) -> tuple[Task, threading.Event]:
        """Mark a job deleting or resetting (action DELETE or RESET) and do it in the background.

        Resumes task when given. Returns the task and its end.
        """
        if action == DELETE:
            status.deleting = True
        else:
            status.resetting = True
        self._repository.save_status(job_id, status)
        task = task or self._repository.new_task(action, job_id, now_ms())
        done = threading.Event()
        self._running[job_id] = (task, done)
        threading.Thread(target=self._run, args=(job_id, task, done), name=f"{action}-{job_id}", daemon=True).start()
        return task, done

    def finish(self, running: tuple[Task, threading.Event], wait_for_completion: bool) -> str | None:
        """Wait for a task when asked (None), else its id."""
        if not wait_for_completion:
            return running[0].task_id
        self.wait(*running)
        return None

    def wait(self, task: Task, done: threading.Event) -> None:
        """Wait for a task to finish.

        Raises:
            AnomalydError: it failed.
        """
        done.wait()
        finished = self._repository.task(task.task_id)
        if finished is not None and finished.error_code:
            raise AnomalydError(finished.error_message)

    def get(self, task_id: str) -> Task:
        """A task; TaskNotFound if there is none."""
        task = self._repository.task(task_id)
        if task is None:
            raise TaskNotFound(f"no task with id {task_id!r}", taskId=task_id)
        return task

    def _run(self, job_id: str, task: Task, done: threading.Event) -> None:
        verb = "deleting" if task.action == DELETE else "resetting"
        finished = msgspec.structs.replace(task, done=True)
        try:
            if task.action == DELETE:
                self._force_close(job_id)
                finished.end_time_ms = now_ms()
                self._repository.delete_job(job_id, finished)
            else:
                # As if just created: no results, model, snapshots or counts; the config stays.
                fresh = JobStatus(JobState.CLOSED, IngestState.new(self._repository.job(job_id)))
                finished.end_time_ms = now_ms()
                self._repository.reset_job(job_id, fresh, finished)
            log.info("%s job %s done", verb, job_id)
        except Exception as err:  # reported through the task; it resumes on restart
            log.exception("%s job %s failed", verb, job_id)
            finished.end_time_ms = now_ms()
            finished.error_code, finished.error_reason, finished.error_message = (
                "INTERNAL",
                "INTERNAL",
                f"{verb} job {job_id!r} failed: {err}",
            )
            self._repository.save_task(finished)
        with self._lock:
            del self._running[job_id]
        done.set()
