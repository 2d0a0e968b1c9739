"""The Kubernetes manifests (deploy/kubernetes) hang together, beyond what their schemas check.

`make test` renders every overlay and validates each object against the Kubernetes schemas
(deploy/kubernetes/validate.sh); these tests render them again and check what a schema cannot:
names, ports and labels that must agree across objects, the probes' health services, the security
context, and that every ANOMALYD_* setting is one the server reads.
"""

from __future__ import annotations

import functools
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

import anomalyd
from tests.conftest import REPO

KUBERNETES = REPO / "deploy" / "kubernetes"
OVERLAYS = sorted(p.name for p in (KUBERNETES / "overlays").iterdir() if p.is_dir())
REPLICAS = {"single": 1, "replicated": 3, "replicated-tls": 3}
CONTAINERFILE = (REPO / "deploy" / "image" / "Containerfile").read_text()


@functools.cache
def kubectl() -> str:
    """The kubectl that deploy/kubernetes/validate.sh renders with (deploy/kubernetes/tools.sh)."""
    done = subprocess.run(
        ["bash", "-c", 'ROOT="$1"; . "$ROOT/deploy/kubernetes/tools.sh"; kube_tool kubectl', "-", str(REPO)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, f"no kubectl to render with: {done.stderr}"
    return done.stdout.strip()


def render(overlay: str) -> list[dict[str, Any]]:
    done = subprocess.run(
        [kubectl(), "kustomize", str(KUBERNETES / "overlays" / overlay)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return [o for o in yaml.safe_load_all(done.stdout) if o]


@pytest.fixture(scope="module", params=OVERLAYS)
def objects(request: pytest.FixtureRequest) -> tuple[str, dict[tuple[str, str], dict[str, Any]]]:
    rendered = render(request.param)
    return request.param, {(o["kind"], o["metadata"]["name"]): o for o in rendered}


def one(objects: dict[tuple[str, str], dict[str, Any]], kind: str) -> dict[str, Any]:
    [found] = [o for (k, _), o in objects.items() if k == kind]
    return found


def matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def server_flags_env() -> set[str]:
    """The ANOMALYD_* variables that `anomalyd serve` reads, from its --help."""
    done = subprocess.run([sys.executable, "-m", "anomalyd.server", "--help"], capture_output=True, text=True, timeout=60)
    return set(re.findall(r"env\s+(ANOMALYD_[A-Z_]+)", done.stdout))


def test_every_overlay_is_checked() -> None:
    assert set(OVERLAYS) == set(REPLICAS)


def test_the_statefulset_its_services_and_budget_agree(objects) -> None:
    overlay, by_key = objects
    sts = one(by_key, "StatefulSet")
    spec = sts["spec"]
    labels = spec["template"]["metadata"]["labels"]
    assert spec["replicas"] == REPLICAS[overlay]
    assert matches(spec["selector"]["matchLabels"], labels)
    headless = by_key[("Service", spec["serviceName"])]
    assert headless["spec"]["clusterIP"] == "None"
    assert headless["spec"]["publishNotReadyAddresses"] is True
    [container] = spec["template"]["spec"]["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"grpc": 50051, "metrics": 9090}
    for (kind, _), o in by_key.items():
        if kind == "Service":
            assert matches(o["spec"]["selector"], labels)
            for port in o["spec"]["ports"]:
                assert port["targetPort"] in ports
                assert port["port"] == ports[port["targetPort"]]
                assert port.get("appProtocol") == {"grpc": "grpc", "metrics": "http"}[port["targetPort"]]
    client = by_key[("Service", "anomalyd")]
    assert [p["name"] for p in client["spec"]["ports"]] == ["grpc"]
    assert "metrics" in [p["name"] for p in headless["spec"]["ports"]]  # a ServiceMonitor's endpoint
    pdb = one(by_key, "PodDisruptionBudget")
    assert matches(pdb["spec"]["selector"]["matchLabels"], labels)
    assert pdb["spec"]["maxUnavailable"] == 1
    policy = one(by_key, "NetworkPolicy")
    assert matches(policy["spec"]["podSelector"]["matchLabels"], labels)
    assert {p["port"] for rule in policy["spec"]["ingress"] for p in rule["ports"]} == set(ports)


def test_probes_ask_the_health_services_the_server_names(objects) -> None:
    overlay, by_key = objects
    [container] = one(by_key, "StatefulSet")["spec"]["template"]["spec"]["containers"]
    expected = {"startupProbe": "liveness", "livenessProbe": "liveness", "readinessProbe": ""}
    for probe, service in expected.items():
        handlers = {"grpc", "exec", "httpGet", "tcpSocket"} & set(container[probe])
        assert len(handlers) == 1, f"{probe} has handlers {handlers}"
        if overlay.endswith("-tls"):  # the kubelet's gRPC probes speak plaintext only
            assert container[probe]["exec"]["command"] == ["anomalyd-probe", "--service", service]
        else:
            assert container[probe]["grpc"] == {"port": 50051, "service": service}
    startup = container["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 600  # a big store opens in time


def test_pods_run_as_the_image_user_with_nothing_to_spare(objects) -> None:
    _, by_key = objects
    sts = one(by_key, "StatefulSet")
    pod = sts["spec"]["template"]["spec"]
    uid, gid = re.search(r"^USER (\d+):(\d+)$", CONTAINERFILE, re.MULTILINE).groups()  # type: ignore[union-attr]
    assert pod["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": int(uid),
        "runAsGroup": int(gid),
        "fsGroup": int(gid),
        "fsGroupChangePolicy": "OnRootMismatch",
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    [container] = pod["containers"]
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }
    assert pod["automountServiceAccountToken"] is False
    assert pod["enableServiceLinks"] is False  # service variables would land among ANOMALYD_*
    assert pod["terminationGracePeriodSeconds"] >= 120
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert "emptyDir" in volumes[mounts["/tmp"]]
    [claim] = sts["spec"]["volumeClaimTemplates"]
    assert mounts["/var/lib/anomalyd"] == claim["metadata"]["name"]
    assert 'VOLUME ["/var/lib/anomalyd"]' in CONTAINERFILE
    assert "memory" in container["resources"]["limits"]
    # The image deploy/image/build.sh tags, unless the overlay names a registry's.
    assert container["image"] == f"localhost/anomalyd:{anomalyd.VERSION}"
    assert container["imagePullPolicy"] == "IfNotPresent"


def test_settings_are_ones_the_server_reads_and_agree_with_the_ports(objects) -> None:
    _, by_key = objects
    sts = one(by_key, "StatefulSet")
    pod = sts["spec"]["template"]
    [container] = pod["spec"]["containers"]
    [source] = container["envFrom"]
    settings = by_key[("ConfigMap", source["configMapRef"]["name"])]["data"]
    settings |= {e["name"]: e.get("value") for e in container.get("env", [])}
    known = server_flags_env()
    server_settings = {k for k in settings if not k.startswith("ANOMALYD_PROBE_")}
    assert server_settings <= known, f"the server reads none of {sorted(server_settings - known)}"
    assert settings["ANOMALYD_DATA_DIR"] == "/var/lib/anomalyd"
    assert settings["ANOMALYD_LISTEN"] == "0.0.0.0:50051"
    assert settings["ANOMALYD_METRICS_LISTEN"] == "0.0.0.0:9090"
    node = next(e for e in container["env"] if e["name"] == "ANOMALYD_NODE_NAME")
    assert node["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}  # a job's node is its pod's name
    annotations = pod["metadata"]["annotations"]
    assert annotations == {"prometheus.io/scrape": "true", "prometheus.io/port": "9090", "prometheus.io/path": "/metrics"}


def test_the_tls_overlay_mounts_what_its_settings_name(objects) -> None:
    overlay, by_key = objects
    if not overlay.endswith("-tls"):
        return
    pod = one(by_key, "StatefulSet")["spec"]["template"]["spec"]
    [container] = pod["containers"]
    env = {e["name"]: e["value"] for e in container["env"] if "value" in e}
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    secrets = {v["name"]: v["secret"]["secretName"] for v in pod["volumes"] if "secret" in v}
    for name in ("ANOMALYD_TLS_CERT", "ANOMALYD_TLS_KEY", "ANOMALYD_KEYS_FILE", "ANOMALYD_PROBE_CA"):
        mount = mounts[str(Path(env[name]).parent)]
        assert mount in secrets, name
    assert set(secrets.values()) == {"anomalyd-tls", "anomalyd-keys"}
