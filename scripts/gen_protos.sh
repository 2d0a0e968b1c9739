#!/usr/bin/env bash
# Regenerates the Python stubs in service/anomalyd/v1/ (or in $1) from protos/, with type stubs
# from mypy-protobuf for messages and services. Run with the venv's python first on PATH (make
# protos does); tests/api/test_contract.py fails when the committed stubs are stale.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-service}
python -m grpc_tools.protoc -I protos --python_out="$out" --grpc_python_out="$out" \
    --mypy_out="$out" --mypy_grpc_out="$out" protos/anomalyd/v1/*.proto
