"""The one place where domain errors become gRPC statuses (AIP-193 error details)."""

from __future__ import annotations

import logging
from typing import NoReturn

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from anomalyd.core.errors import AnomalydError

DOMAIN = "anomalyd.io"
log = logging.getLogger(__name__)


def to_status(err: AnomalydError) -> grpc.Status:
    """The gRPC status of a domain error, with one ErrorInfo and, for bad fields, a BadRequest."""
    details = [
        _packed(error_details_pb2.ErrorInfo(reason=err.reason, domain=DOMAIN, metadata=err.metadata))
    ]
    if err.field_violations:
        details.append(
            _packed(
                error_details_pb2.BadRequest(
                    field_violations=[
                        error_details_pb2.BadRequest.FieldViolation(field=f, description=d)
                        for f, d in err.field_violations
                    ]
                )
            )
        )
    status = status_pb2.Status(
        code=getattr(code_pb2, err.status), message=err.message, details=details
    )
    return rpc_status.to_status(status)


def abort(context: grpc.ServicerContext, err: AnomalydError) -> NoReturn:
    """End the RPC with the status of err."""
    context.abort_with_status(to_status(err))
    raise AssertionError("abort_with_status returned")  # it always raises


def abort_internal(context: grpc.ServicerContext, err: BaseException) -> NoReturn:
    """End the RPC after a bug: a generic message for the client, the details in the log."""
    log.exception("internal error", exc_info=err)
    abort(context, AnomalydError("internal error; the server log has the details"))


def _packed(message: object) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)
    return packed
