"""The one exception the client raises for a failed call."""

from __future__ import annotations

from collections.abc import Mapping

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status


class AnomalydError(Exception):
    """A call failed. Branch on `reason`, never on `message`, which may be reworded.

    Attributes:
        code: the gRPC status code.
        reason: the stable ErrorInfo reason, such as "JOB_NOT_FOUND"; empty when the failure
            did not come from anomalyd (the server is unreachable, a deadline passed).
        message: what went wrong, for people.
        metadata: the ErrorInfo metadata, naming every value in the message.
        field_violations: (field, description) pairs of a google.rpc.BadRequest, such as
            ("analysis_config.detectors[0].function", "unknown function 'man'").
    """

    def __init__(
        self,
        code: grpc.StatusCode,
        reason: str,
        message: str,
        metadata: Mapping[str, str] | None = None,
        field_violations: tuple[tuple[str, str], ...] = (),
    ) -> None:
        super().__init__(code, reason, message)
        self.code = code
        self.reason = reason
        self.message = message
        self.metadata = dict(metadata or {})
        self.field_violations = field_violations

    def __str__(self) -> str:
        label = f"{self.code.name} {self.reason}" if self.reason else self.code.name
        return f"{label}: {self.message}"

    @classmethod
    def from_rpc_error(cls, error: grpc.RpcError) -> AnomalydError:
        """Reads the code, message and google.rpc details of a failed call."""
        assert isinstance(error, grpc.Call), "grpc raises errors that are also Calls"
        status = rpc_status.from_call(error)
        if status is None:
            return cls(error.code(), "", error.details() or "")
        info = error_details_pb2.ErrorInfo()
        bad_request = error_details_pb2.BadRequest()
        for detail in status.details:
            if not detail.Unpack(info):
                detail.Unpack(bad_request)
        return cls(
            error.code(),
            info.reason,
            status.message,
            info.metadata,
            tuple((v.field, v.description) for v in bad_request.field_violations),
        )
