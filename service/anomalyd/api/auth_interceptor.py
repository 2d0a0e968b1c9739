"""The server hook of auth.py: a grpc.aio interceptor that refuses calls the Authorizer refuses.

A refused call gets a handler of the same kind as the real one (so gRPC reads its request as
usual) that only aborts with the rich status of the domain error.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import grpc
import grpc.aio

from anomalyd.api.auth import Authorizer
from anomalyd.api.errors import to_status
from anomalyd.core.errors import AnomalydError

if TYPE_CHECKING:  # generic in grpc's type stubs only
    Handler = grpc.RpcMethodHandler[Any, Any]
log = logging.getLogger(__name__)


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
