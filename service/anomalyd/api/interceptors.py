"""grpc.aio interceptors that refuse calls before they reach a servicer.

ServingGate refuses anomalyd's RPCs while the server restores its jobs or drains; AuthInterceptor
refuses calls the Authorizer (auth.py) refuses; MetricsInterceptor counts and times the calls. A refused call gets a handler of the same kind
as the real one (so gRPC reads its request as usual) that only aborts with the rich status of
the domain error. Health checks and reflection always pass.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import grpc
import grpc.aio

from anomalyd.api.auth import Authorizer
from anomalyd.api.errors import to_status
from anomalyd.core.errors import AnomalydError, Draining
from anomalyd.metrics import Metrics

if TYPE_CHECKING:  # generic in grpc's type stubs only
    Handler = grpc.RpcMethodHandler[Any, Any]
log = logging.getLogger(__name__)
_ANOMALYD_METHODS = "/anomalyd.v1."


class AuthInterceptor(grpc.aio.ServerInterceptor):
    """Lets a call through only when its API key grants the method's privilege."""

    def __init__(self, authorizer: Authorizer) -> None:
        self._authorizer = authorizer

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Handler | None]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Handler | None:
        """The real handler of an authorized call, else one that aborts with the refusal."""
        method = handler_call_details.method
        try:
            self._authorizer.authorize(method, handler_call_details.invocation_metadata or ())
        except AnomalydError as err:
            log.info("refused %s: %s", method, err.reason)
            return _refusing(await continuation(handler_call_details), to_status(err))
        return await continuation(handler_call_details)


class ServingGate(grpc.aio.ServerInterceptor):
    """Refuses anomalyd's RPCs with UNAVAILABLE/SERVER_DRAINING while the server is not serving.

    The server opens it once its jobs are restored and closes it when it starts to drain; only
    the event loop touches it.
    """

    def __init__(self) -> None:
        self.why_closed: str | None = "the server is restoring its jobs"

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Handler | None]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Handler | None:
        """The real handler, or while closed one that aborts anomalyd's RPCs."""
        handler = await continuation(handler_call_details)
        if self.why_closed is None or not handler_call_details.method.startswith(_ANOMALYD_METHODS):
            return handler
        return _refusing(handler, to_status(Draining(f"{self.why_closed}; retry in a moment")))


def _refusing(handler: Handler | None, status: grpc.Status) -> Handler:
    async def refuse(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> None:
        await context.abort(status.code, status.details, status.trailing_metadata)

    if handler is None:
        # An unknown method: every call is a stream of bytes on the wire, so this fits any.
        return grpc.stream_stream_rpc_method_handler(refuse)
    kinds = {
        (False, False): grpc.unary_unary_rpc_method_handler,
        (False, True): grpc.unary_stream_rpc_method_handler,
        (True, False): grpc.stream_unary_rpc_method_handler,
        (True, True): grpc.stream_stream_rpc_method_handler,
    }
    make: Callable[..., Handler] = kinds[handler.request_streaming, handler.response_streaming]
    return make(
        refuse, request_deserializer=handler.request_deserializer, response_serializer=handler.response_serializer
    )


class MetricsInterceptor(grpc.aio.ServerInterceptor):
    """Counts and times every call of anomalyd's services."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Handler | None]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Handler | None:
        """The handler, timed when it is one of anomalyd's unary or client-streaming RPCs."""
        handler = await continuation(handler_call_details)
        full_name = handler_call_details.method
        if handler is None or handler.response_streaming or not full_name.startswith(_ANOMALYD_METHODS):
            return handler
        method = full_name.rpartition("/")[2]
        if handler.request_streaming:
            return grpc.stream_unary_rpc_method_handler(
                self._timed(handler.stream_unary, method),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return grpc.unary_unary_rpc_method_handler(
            self._timed(handler.unary_unary, method),
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )

    def _timed(self, behavior: Any, method: str) -> Callable[[Any, grpc.aio.ServicerContext[Any, Any]], Awaitable[Any]]:
        @functools.wraps(behavior)
        async def timed(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            started = time.perf_counter()
            code = grpc.StatusCode.UNKNOWN
            try:
                response = await behavior(request, context)
                code = grpc.StatusCode.OK
                return response
            except grpc.aio.AbortError:
                code = context.code() or grpc.StatusCode.UNKNOWN
                raise
            except BaseException:  # a cancelled call, typically: nobody gets a status
                code = grpc.StatusCode.CANCELLED
                raise
            finally:
                self._metrics.rpcs.labels(method, code.name).inc()
                self._metrics.rpc_seconds.labels(method).observe(time.perf_counter() - started)

        return timed
