"""The committed Python stubs match protos/, and the contract keeps its public shape."""

from __future__ import annotations

import filecmp
import os
import subprocess
import sys
from pathlib import Path

from anomalyd.v1 import job_service_pb2
from tests.conftest import REPO


def test_generated_stubs_are_up_to_date(tmp_path):
    venv_bin = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": f"{venv_bin}{os.pathsep}{os.environ['PATH']}"}
    subprocess.run(["bash", str(REPO / "scripts/gen_protos.sh"), str(tmp_path)], check=True, env=env)
    generated = sorted(p.name for p in (tmp_path / "anomalyd/v1").iterdir())
    committed = REPO / "service/anomalyd/v1"
    _, mismatch, errors = filecmp.cmpfiles(tmp_path / "anomalyd/v1", committed, generated, shallow=False)
    assert not mismatch and not errors, f"stale stubs {mismatch + errors}: run make protos"


def test_rpcs_and_options_for_every_language():
    service = job_service_pb2.DESCRIPTOR.services_by_name["JobService"]
    names = [m.name for m in service.methods]
    assert names == ["PutJob", "GetJobs", "GetJobStats", "OpenJob", "PostData", "FlushJob", "CloseJob", "DeleteJob", "GetTask",
                     "UpdateJob", "ResetJob"]
    for method in service.methods:
        assert method.input_type.name == f"{method.name}Request"
        assert method.output_type.name == f"{method.name}Response"
    post = service.methods_by_name["PostData"]
    assert post.client_streaming and not post.server_streaming
    for proto in (REPO / "protos/anomalyd/v1").glob("*.proto"):
        text = proto.read_text()
        for option in ("go_package", "java_package", "java_multiple_files", "csharp_namespace"):
            assert f"option {option}" in text, f"{proto.name} lacks {option}"
