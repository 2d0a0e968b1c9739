#!/usr/bin/env bash
# Regenerates the Go code in clients/go/gen/ from protos/ with local plugins: protoc from the
# Python venv's grpcio-tools (pinned in pyproject.toml), protoc-gen-go at the protobuf runtime
# version go.mod requires, protoc-gen-go-grpc at the version below. Run after editing a .proto;
# gen_test.go fails while the committed code is stale. Writes to $1 (default gen/).
set -euo pipefail
cd "$(dirname "$0")"
GRPC_PLUGIN_VERSION=v1.6.2
out=${1:-gen}
python=${ANOMALYD_PYTHON:-../../.venv/bin/python}
if [ ! -x "$python" ]; then
    echo "gen.sh: $python is missing: run 'make .venv/.installed' at the repo root for grpcio-tools' protoc (or set ANOMALYD_PYTHON)" >&2
    exit 1
fi
bin=$PWD/build/bin
protobuf_version=$(go list -m -f '{{.Version}}' google.golang.org/protobuf)
GOBIN=$bin go install "google.golang.org/protobuf/cmd/protoc-gen-go@$protobuf_version"
GOBIN=$bin go install "google.golang.org/grpc/cmd/protoc-gen-go-grpc@$GRPC_PLUGIN_VERSION"
mkdir -p "$out"
"$python" -m grpc_tools.protoc -I ../../protos \
    --plugin=protoc-gen-go="$bin/protoc-gen-go" --go_out="$out" --go_opt=paths=source_relative \
    --plugin=protoc-gen-go-grpc="$bin/protoc-gen-go-grpc" --go-grpc_out="$out" --go-grpc_opt=paths=source_relative \
    ../../protos/anomalyd/v1/*.proto
