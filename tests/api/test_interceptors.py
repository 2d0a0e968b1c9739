"""The grpc.aio interceptor on a small aio server: refusals keep the method's kind and carry ErrorInfo."""

from __future__ import annotations

import asyncio
from pathlib import Path

import grpc
import grpc.aio
from google.rpc import error_details_pb2, status_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1.health import aio as health_aio

from anomalyd.api.auth import Authorizer
from anomalyd.api.interceptors import AuthInterceptor
from anomalyd.api.keystore import KeyStore, create_key
from anomalyd.v1 import job_service_pb2 as pb

SERVICE = "anomalyd.v1.JobService"


async def _get_jobs(request: pb.GetJobsRequest, context: grpc.aio.ServicerContext) -> pb.GetJobsResponse:
    return pb.GetJobsResponse()


async def _post_data(requests, context: grpc.aio.ServicerContext) -> pb.PostDataResponse:
    count = 0
    async for _ in requests:
        count += 1
    response = pb.PostDataResponse()
    response.data_counts.input_record_count = count
    return response


def _handlers() -> grpc.GenericRpcHandler:
    return grpc.method_handlers_generic_handler(
        SERVICE,
        {
            "GetJobs": grpc.unary_unary_rpc_method_handler(
                _get_jobs, pb.GetJobsRequest.FromString, pb.GetJobsResponse.SerializeToString
            ),
            "PostData": grpc.stream_unary_rpc_method_handler(
                _post_data, pb.PostDataRequest.FromString, pb.PostDataResponse.SerializeToString
            ),
        },
    )


def _error_info(err: grpc.aio.AioRpcError) -> error_details_pb2.ErrorInfo:
    [raw] = [v for k, v in err.trailing_metadata() if k == "grpc-status-details-bin"]
    [detail] = status_pb2.Status.FromString(raw).details
    info = error_details_pb2.ErrorInfo()
    assert detail.Unpack(info)
    return info


async def _scenario(keys_file: str, manage: str, monitor: str) -> dict[str, object]:
    server = grpc.aio.server(interceptors=[AuthInterceptor(Authorizer(KeyStore(keys_file)))])
    server.add_generic_rpc_handlers([_handlers()])
    health = health_aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    seen: dict[str, object] = {}
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            get_jobs = channel.unary_unary(
                f"/{SERVICE}/GetJobs", pb.GetJobsRequest.SerializeToString, pb.GetJobsResponse.FromString
            )
            post_data = channel.stream_unary(
                f"/{SERVICE}/PostData", pb.PostDataRequest.SerializeToString, pb.PostDataResponse.FromString
            )
            unknown = channel.unary_unary(f"/{SERVICE}/ResetJob")

            def key(credential: str) -> tuple[tuple[str, str], ...]:
                return (("authorization", f"ApiKey {credential}"),)

            async def outcome(call: object) -> object:
                try:
                    return await call  # type: ignore[misc]
                except grpc.aio.AioRpcError as err:
                    return err.code(), _error_info(err)

            messages = [pb.PostDataRequest(job_id="j", data=b"{}")] * 3
            seen["no key"] = await outcome(get_jobs(pb.GetJobsRequest(), timeout=10))
            seen["monitor get"] = await outcome(get_jobs(pb.GetJobsRequest(), timeout=10, metadata=key(monitor)))
            seen["monitor post"] = await outcome(post_data(iter(messages), timeout=10, metadata=key(monitor)))
            seen["manage post"] = await outcome(post_data(iter(messages), timeout=10, metadata=key(manage)))
            seen["unknown"] = await outcome(unknown(b"", timeout=10))
            check = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10)
            seen["health"] = await outcome(check)
    finally:
        await server.stop(None)
    return seen


def test_refusals_carry_their_status_and_allowed_calls_reach_the_handler(tmp_path: Path) -> None:
    keys_file = str(tmp_path / "keys.json")
    _, manage = create_key(keys_file, role="manage")
    _, monitor = create_key(keys_file, role="monitor")
    seen = asyncio.run(_scenario(keys_file, manage, monitor))
    code, info = seen["no key"]  # type: ignore[misc]
    assert code == grpc.StatusCode.UNAUTHENTICATED and info.reason == "API_KEY_REQUIRED"
    assert info.domain == "anomalyd.io"
    assert seen["monitor get"] == pb.GetJobsResponse()
    code, info = seen["monitor post"]  # type: ignore[misc]
    assert code == grpc.StatusCode.PERMISSION_DENIED and info.reason == "INSUFFICIENT_PRIVILEGES"
    assert info.metadata["privilege"] == "manage" and info.metadata["role"] == "monitor"
    assert seen["manage post"].data_counts.input_record_count == 3  # type: ignore[attr-defined]
    code, info = seen["unknown"]  # type: ignore[misc]
    assert code == grpc.StatusCode.UNAUTHENTICATED and info.reason == "API_KEY_REQUIRED"
    assert seen["health"].status == health_pb2.HealthCheckResponse.SERVING  # type: ignore[attr-defined]
