#!/usr/bin/env bash
# Server-side dry run of every rendered overlay (deploy/build/kubernetes/*.yaml, made by
# validate.sh) against a real kube-apiserver over a real etcd, both on loopback and gone at the
# end. It catches what schemas cannot: the apiserver's own validation (names, label values,
# selectors against templates, duplicate ports) and the "restricted" Pod Security Standard,
# enforced on a namespace per overlay, for the objects and for the pod each StatefulSet makes.
#
# etcd: Debian's etcd-server (apt-get install when missing). kube-apiserver and kubectl: see
# tools.sh (no package manager ships kube-apiserver: it is built with Go, once per machine).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
RENDERED=$ROOT/deploy/build/kubernetes
PY=$ROOT/.venv/bin/python

say() { echo "dry-run.sh: $*" >&2; }

# shellcheck source=deploy/kubernetes/tools.sh
. "$ROOT/deploy/kubernetes/tools.sh"
VERSION=$KUBE_VERSION

ls "$RENDERED"/*.yaml >/dev/null 2>&1 || { say "no rendered overlays in $RENDERED: run deploy/kubernetes/validate.sh first"; exit 1; }
if ! command -v etcd >/dev/null 2>&1; then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
        say "installing etcd-server with apt-get"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq etcd-server >/dev/null
    else
        say "the dry run needs etcd (Debian: apt-get install etcd-server)"
        exit 1
    fi
fi
KUBECTL=$(kube_tool kubectl) || { say "the dry run needs kubectl"; exit 1; }
APISERVER=$(kube_tool kube-apiserver) || { say "the dry run needs kube-apiserver $VERSION"; exit 1; }

work=$(mktemp -d)
pids=()
cleanup() {
    # SIGKILL: a throwaway apiserver's graceful shutdown would wait up to 20 s for its watches.
    for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

free_port() { "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
client=$(free_port) peer=$(free_port) secure=$(free_port)
start=$SECONDS
etcd --name dry-run --data-dir "$work/etcd" --log-level error \
    --listen-client-urls "http://127.0.0.1:$client" --advertise-client-urls "http://127.0.0.1:$client" \
    --listen-peer-urls "http://127.0.0.1:$peer" --initial-advertise-peer-urls "http://127.0.0.1:$peer" \
    --initial-cluster "dry-run=http://127.0.0.1:$peer" >"$work/etcd.log" 2>&1 &
pids+=($!)
openssl genrsa -out "$work/sa.key" 2048 2>/dev/null
token=$(head -c 24 /dev/urandom | base64 | tr -dc 'a-zA-Z0-9')
echo "$token,dry-run,dry-run,system:masters" >"$work/tokens.csv"
"$APISERVER" --etcd-servers "http://127.0.0.1:$client" --bind-address 127.0.0.1 --advertise-address 127.0.0.1 \
    --secure-port "$secure" --cert-dir "$work/certs" --token-auth-file "$work/tokens.csv" \
    --authorization-mode AlwaysAllow --service-cluster-ip-range 10.96.0.0/16 \
    --service-account-issuer https://kubernetes.default.svc --service-account-key-file "$work/sa.key" \
    --service-account-signing-key-file "$work/sa.key" >"$work/apiserver.log" 2>&1 &
pids+=($!)

export KUBECONFIG=$work/kubeconfig
"$KUBECTL" config set-cluster dry-run --server "https://127.0.0.1:$secure" --insecure-skip-tls-verify=true >/dev/null
"$KUBECTL" config set-credentials dry-run --token "$token" >/dev/null
"$KUBECTL" config set-context dry-run --cluster dry-run --user dry-run >/dev/null
"$KUBECTL" config use-context dry-run >/dev/null
for _ in $(seq 1 240); do
    "$KUBECTL" get --raw /readyz >/dev/null 2>&1 && break
    sleep 0.5
done
"$KUBECTL" get --raw /readyz >/dev/null 2>&1 ||
    { tail -20 "$work/apiserver.log" "$work/etcd.log" >&2; say "kube-apiserver did not get ready in 2 minutes"; exit 1; }
say "kube-apiserver $VERSION ready in $((SECONDS - start)) s"

failed=0
for rendered in "$RENDERED"/*.yaml; do
    overlay=$(basename "$rendered" .yaml)
    namespace=dry-run-$overlay
    "$KUBECTL" create namespace "$namespace" >/dev/null
    "$KUBECTL" label namespace "$namespace" pod-security.kubernetes.io/enforce=restricted \
        pod-security.kubernetes.io/warn=restricted >/dev/null
    # The pod of each StatefulSet as its controller would make it: ordinal 0, its claims bound.
    "$PY" - "$rendered" >"$work/$overlay-pods.yaml" <<'PYTHON'
import sys

import yaml

with open(sys.argv[1]) as f:
    objects = [o for o in yaml.safe_load_all(f) if o]
pods = []
for sts in (o for o in objects if o["kind"] == "StatefulSet"):
    name = sts["metadata"]["name"]
    template = sts["spec"]["template"]
    spec = dict(template["spec"], hostname=f"{name}-0", subdomain=sts["spec"]["serviceName"])
    claims = [c["metadata"]["name"] for c in sts["spec"].get("volumeClaimTemplates", [])]
    spec["volumes"] = spec.get("volumes", []) + [
        {"name": c, "persistentVolumeClaim": {"claimName": f"{c}-{name}-0"}} for c in claims
    ]
    pods.append({"apiVersion": "v1", "kind": "Pod", "metadata": dict(template["metadata"], name=f"{name}-0"), "spec": spec})
yaml.safe_dump_all(pods, sys.stdout)
PYTHON
    # The objects in a dry run, then for real (nothing runs them: there is no controller manager
    # and no node) so that the pod finds its service account.
    for file in "$rendered" "$work/$overlay-pods.yaml"; do
        if ! "$KUBECTL" create --dry-run=server -n "$namespace" -f "$file" >"$work/out" 2>&1 || grep -q '^Warning' "$work/out"; then
            failed=1
            say "$overlay: $(basename "$file") was refused or warned about:"
            grep -v 'created (server dry run)' "$work/out" >&2 || true
        fi
        [ "$file" = "$rendered" ] && { "$KUBECTL" create -n "$namespace" -f "$file" >"$work/out" 2>&1 || { failed=1; cat "$work/out" >&2; }; }
    done
done
[ "$failed" -eq 0 ] || exit 1
say "$(ls "$RENDERED"/*.yaml | wc -l) overlays accepted by kube-apiserver $VERSION (dry run, restricted pod security) in $((SECONDS - start)) s"
