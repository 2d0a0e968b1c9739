#!/usr/bin/env bash
# Renders every overlay of deploy/kubernetes with `kubectl kustomize` into deploy/build/kubernetes/
# and validates every object strictly (unknown fields are errors) against the schemas of each
# Kubernetes minor version from KUBE_MIN to KUBE_MAX, with kubernetes-validate (the dev extras).
# kubectl: see tools.sh.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
KUBERNETES=$ROOT/deploy/kubernetes
OUT=$ROOT/deploy/build/kubernetes
# 1.27: the oldest release with gRPC probes and the StatefulSet PVC retention policy on by default.
KUBE_MIN=${KUBE_MIN:-27}
KUBE_MAX=${KUBE_MAX:-$("$ROOT/.venv/bin/python" -c 'import kubernetes_validate.utils as u; print(max(int(v.split(".")[1]) for v in u.all_versions()))' 2>/dev/null || echo 37)}

say() { echo "validate.sh: $*" >&2; }

# shellcheck source=deploy/kubernetes/tools.sh
. "$ROOT/deploy/kubernetes/tools.sh"
KUBECTL=$(kube_tool kubectl) || { say "rendering the manifests needs kubectl"; exit 1; }
render=("$KUBECTL" kustomize)
"$ROOT/.venv/bin/python" -c "import kubernetes_validate" 2>/dev/null ||
    { say "kubernetes-validate is missing from the venv: make .venv/.installed (it is in the dev extras)"; exit 1; }

rm -rf "$OUT"
mkdir -p "$OUT"
files=()
for overlay in "$KUBERNETES"/overlays/*/; do
    name=$(basename "$overlay")
    "${render[@]}" "$overlay" >"$OUT/$name.yaml"
    files+=("$OUT/$name.yaml")
done
# One process for every version: the schemas load once.
"$ROOT/.venv/bin/python" - "$KUBE_MIN" "$KUBE_MAX" "${files[@]}" <<'PYTHON' || exit 1
import sys

import kubernetes_validate
import yaml

low, high, *paths = sys.argv[1:]
failed = 0
for path in paths:
    with open(path) as f:
        objects = [o for o in yaml.safe_load_all(f) if o]
    for minor in range(int(low), int(high) + 1):
        for o in objects:
            try:
                kubernetes_validate.validate(o, f"1.{minor}.0", strict=True)
            except kubernetes_validate.ValidationError as err:
                failed += 1
                where = ".".join(str(p) for p in err.path)
                print(f"{path}: {o['kind']}/{o['metadata']['name']}, Kubernetes 1.{minor}: {where}: {err.message}", file=sys.stderr)
            except kubernetes_validate.SchemaNotFoundError:
                failed += 1
                print(f"{path}: {o['kind']} ({o['apiVersion']}) has no schema in Kubernetes 1.{minor}", file=sys.stderr)
sys.exit(1 if failed else 0)
PYTHON
objects=$(grep -c '^kind:' "${files[@]}" | awk -F: '{n += $2} END {print n}')
say "${#files[@]} overlays ($(basename -a "${files[@]}" | sed 's/\.yaml$//' | tr '\n' ' ' | sed 's/ $//'); $objects objects), rendered by ${render[*]}, valid for Kubernetes 1.$KUBE_MIN to 1.$KUBE_MAX"
