# The Go client (clients/go/README.md), included by the top Makefile: builds its interop driver
# after go vet and its unit tests (no server needed; one regenerates the code from protos/ with
# the venv's protoc to check the committed code). Modules come through the Go module proxy as
# go.mod and go.sum pin them. On a fresh 2-core machine: about 1.5 minutes, mostly compiling
# grpc-go and the two protoc plugins; a few seconds once Go's caches are warm.
GO ?= go
GO_CLIENT := clients/go
TEST_BUILDS += $(GO_CLIENT)/build/interop

$(GO_CLIENT)/build/interop: $(VENV)/.installed $(GO_CLIENT)/go.mod $(GO_CLIENT)/go.sum $(GO_CLIENT)/gen.sh \
		$(shell find $(GO_CLIENT) -name '*.go' -not -path '$(GO_CLIENT)/build/*') $(wildcard protos/anomalyd/v1/*.proto)
	@command -v $(GO) >/dev/null 2>&1 || { echo "make: the Go client needs the Go toolchain (1.26 or later), and '$(GO)' is not on PATH: install Go, or set GO=/path/to/go" >&2; exit 1; }
	cd $(GO_CLIENT) && $(GO) vet ./... && ANOMALYD_PYTHON=$(abspath $(PY)) $(GO) test -count=1 ./...
	cd $(GO_CLIENT) && $(GO) build -o build/interop ./cmd/interop
