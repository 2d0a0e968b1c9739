#!/usr/bin/env bash
# Regenerates the Python stubs in service/anomalyd/v1/ from protos/. Run after editing a .proto;
# tests/api/test_contract.py fails when the committed stubs are stale.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-service}
python -m grpc_tools.protoc -I protos --python_out="$out" --pyi_out="$out" \
    --grpc_python_out="$out" protos/anomalyd/v1/*.proto
