"""A started server has every kernel the every-function job and one-detector jobs call: their first uploads compile nothing.

A kernel the warm-up misses is compiled (or loaded from the cache) by the first upload that
needs it, a second or more on these machines; so is a kernel the warm-up calls with other
argument types than uploads do (a read-only array is a type of its own to numba).
"""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import REPO

# Runs in a fresh process: kernels this test process called before would hide a miss.
FIRST_UPLOAD = """
import sys, tempfile
import grpc
from numba.core.registry import CPUDispatcher
from anomalyd.server import Server, Settings
from anomalyd.v1 import job_service_pb2 as pb, job_service_pb2_grpc
from anomalyd.v1.job_pb2 import Detector
from tests.conftest import job
from tests.e2e import every_function as every

def signatures():
    return {f"{m.__name__}.{name}": list(kernel.signatures) for m in list(sys.modules.values())
            if m and m.__name__.startswith("anomalyd.")
            for name, kernel in vars(m).items() if isinstance(kernel, CPUDispatcher)}

server = Server(Settings(data_dir=tempfile.mkdtemp(), listen="127.0.0.1:0", grace_s=1))
server.start()  # warms the kernels up
warm = signatures()
stub = job_service_pb2_grpc.JobServiceStub(grpc.insecure_channel(f"127.0.0.1:{server.port}"))
# The every-function job, and jobs of one detector without influencers (their batches of known
# series take the analyzer's compiled add): one series, and a series per status.
uploads = {
    "every": job("every", *every.DETECTORS, span_s=every.SPAN_S, influencers=every.INFLUENCERS),
    "metric": job("metric", Detector(function="mean", field_name="bytes"), span_s=every.SPAN_S),
    "statuses": job("statuses", Detector(function="mean", field_name="bytes", by_field_name="status"), span_s=every.SPAN_S),
}
for job_id, config in uploads.items():
    stub.PutJob(pb.PutJobRequest(job=config))
    stub.OpenJob(pb.OpenJobRequest(job_id=job_id))
    stub.PostData(iter([pb.PostDataRequest(job_id=job_id)] + [pb.PostDataRequest(data=m) for m in every.messages()]))
    stub.CloseJob(pb.CloseJobRequest(job_id=job_id))
print(sorted(name for name, found in signatures().items() if found != warm.get(name, [])))
server.stop()
"""


def test_the_first_uploads_of_every_function_and_plain_jobs_compile_no_kernel() -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", FIRST_UPLOAD], cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]", f"kernels first called after the warm-up: {done.stdout}"
