"""The one place where domain errors become gRPC statuses (AIP-193 error details)."""

from __future__ import annotations

import logging
from typing import Any, NoReturn

import grpc
from google.protobuf import any_pb2
from google.protobuf.message import Message
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from anomalyd.core.errors import AnomalydError

DOMAIN = "anomalyd.io"
# A client's value echoed in an error (a 10 KB job id, say) is cut to this many characters, so
# that the status trailer stays far below gRPC's 8 KiB default limit on received metadata.
MAX_ECHO_CHARS = 200
MAX_MESSAGE_CHARS = 800
MAX_VIOLATIONS = 20
Context = grpc.aio.ServicerContext[Any, Any]
log = logging.getLogger(__name__)


def to_status(err: AnomalydError) -> grpc.Status:
    """The gRPC status of a domain error, with one ErrorInfo and, for bad fields, a BadRequest."""
    metadata = {key: _shortened(value) for key, value in err.metadata.items()}
    details = [_packed(error_details_pb2.ErrorInfo(reason=err.reason, domain=DOMAIN, metadata=metadata))]
    if err.field_violations:
        details.append(
            _packed(
                error_details_pb2.BadRequest(
                    field_violations=[
                        error_details_pb2.BadRequest.FieldViolation(field=f, description=_shortened(d))
                        for f, d in err.field_violations[:MAX_VIOLATIONS]
                    ]
                )
            )
        )
    message = _shortened(err.message, MAX_MESSAGE_CHARS)
    status = status_pb2.Status(code=getattr(code_pb2, err.status), message=message, details=details)
    converted: grpc.Status = rpc_status.to_status(status)  # type: ignore[no-untyped-call]  # grpcio-status has no types
    return converted


async def abort(context: Context, err: AnomalydError) -> NoReturn:
    """End the RPC with the status of err."""
    status = to_status(err)
    await context.abort(status.code, status.details, status.trailing_metadata)
    raise AssertionError("abort returned")  # it always raises


async def abort_internal(context: Context, err: BaseException) -> NoReturn:
    """End the RPC after a bug: a generic message for the client, the details in the log."""
    log.error("internal error", exc_info=err)
    await abort(context, AnomalydError("internal error; the server log has the details"))



def _shortened(text: str, limit: int = MAX_ECHO_CHARS) -> str:
    return text if len(text) <= limit else f"{text[: limit - 1]}…"


def _packed(message: Message) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)
    return packed
