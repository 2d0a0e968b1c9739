# The TypeScript client (clients/typescript/README.md), included by the top Makefile.
# clients/typescript/build/interop is the interop driver (clients/INTEROP.md). Building it
# installs the locked packages (npm ci), generates the code of protos/ with buf and the local
# protoc-gen-es (src/gen, not committed), compiles with tsc --strict and runs the client's unit
# tests (node:test, against an in-process fake server): a failing test leaves no driver. Each
# step reruns only when its inputs change. On a fresh 2-core machine: about 20 s (npm ci about
# 10 s of it), then about 8 s after a change.
TS_DIR := clients/typescript
TS_DRIVER := $(TS_DIR)/build/interop
TEST_BUILDS += $(TS_DRIVER)

TS_INPUTS := $(wildcard $(TS_DIR)/src/*.ts $(TS_DIR)/test/*.ts $(TS_DIR)/examples/*.ts $(TS_DIR)/interop/*.ts) \
	$(wildcard protos/anomalyd/v1/*.proto) $(TS_DIR)/proto/google/rpc/error_details.proto \
	$(TS_DIR)/buf.gen.yaml $(TS_DIR)/tsconfig.json $(TS_DIR)/package.json

# Node 20 or later with npm, or a message that names them: a missing toolchain fails the build.
TS_TOOLCHAIN := command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 \
	&& node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' \
	|| { echo "$(TS_DIR): building the TypeScript client needs Node.js 20 or later and npm on PATH" \
	"(found node: $$(node --version 2>/dev/null || echo none), npm: $$(npm --version 2>/dev/null || echo none))" >&2; exit 1; }

$(TS_DIR)/node_modules/.installed: $(TS_DIR)/package-lock.json
	@$(TS_TOOLCHAIN)
	cd $(TS_DIR) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(TS_DRIVER): $(TS_DIR)/node_modules/.installed $(TS_INPUTS)
	@$(TS_TOOLCHAIN)
	cd $(TS_DIR) && npm run --silent build && npm test --silent
	printf '#!/bin/sh\n# The TypeScript interop driver (clients/INTEROP.md), built by make.\nexec node "$$(dirname "$$0")/dist/interop/driver.js" "$$@"\n' > $@
	chmod +x $@
