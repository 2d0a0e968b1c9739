"""How servicer methods run on the asyncio server.

The event loop only moves messages. Every domain call, which may wait for a job's lock or for
LMDB, runs in a thread pool, so that health checks, listings and idle streams are answered
whatever the domain is doing. Domain errors become statuses here, anything else INTERNAL.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from typing import Any, Protocol, TypeVar

import grpc

from anomalyd import logs
from anomalyd.api.errors import Context, abort, abort_internal
from anomalyd.core.errors import AnomalydError

T = TypeVar("T")


class Pooled(Protocol):
    """A servicer whose blocking methods run in pool."""

    pool: Executor


def unary(method: Callable[[Any, Any, Any], T]) -> Callable[[Any, Any, Context], Awaitable[T]]:
    """An async handler that runs a blocking servicer method in the servicer's pool."""

    @functools.wraps(method)
    async def handler(self: Pooled, request: Any, context: Context) -> T:
        logs.rpc_method.set(method.__name__)
        logs.job_id.set(getattr(request, "job_id", ""))
        in_context = contextvars.copy_context().run  # the pool thread logs with the request's fields
        loop = asyncio.get_running_loop()
        return await answering(context, loop.run_in_executor(self.pool, in_context, method, self, request, context))

    return handler


async def answering(context: Context, work: Awaitable[T]) -> T:
    """The result of work; its domain error as a status, or INTERNAL for anything else."""
    try:
        return await work
    except AnomalydError as err:
        await abort(context, err)
    except grpc.RpcError:
        raise  # an abort on its way out, or a transport failure: nobody else to answer
    except Exception as err:
        await abort_internal(context, err)


async def run_to_end(pool: Executor, work: Callable[..., T], *args: Any) -> T:
    """work(*args) in pool; if the caller is cancelled meanwhile, it waits for work to end.

    A stream's step must not outlive the stream: the next stream of the job could otherwise
    start while a message of the cancelled one is still being applied.
    """
    future = asyncio.get_running_loop().run_in_executor(pool, contextvars.copy_context().run, work, *args)
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        await asyncio.wait([future])
        raise
