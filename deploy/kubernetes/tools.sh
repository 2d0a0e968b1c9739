# Sourced by validate.sh and dry-run.sh (and tests/deploy), with ROOT set to the repository:
# `kube_tool kubectl` and `kube_tool kube-apiserver` print the path of a binary to run.
#
# kubectl is the one on PATH when its kustomize is v5 (kubectl 1.27 or later; Debian's
# kubernetes-client is 1.20, whose kustomize 2.0 knows no components). kube-apiserver, and kubectl
# where there is no such one, no package manager here ships: they are built with Go from the Go
# module proxy at the versions deploy/kubernetes/tools pins, and kept in ~/.cache/anomalyd. On 2
# cores from nothing: kube-apiserver about 6.5 minutes, kubectl 1 more; with Go's build cache warm,
# seconds; once kept, nothing.
TOOLS_MODULE=$ROOT/deploy/kubernetes/tools
KUBE_VERSION=$(awk '$1 == "require" && $2 == "k8s.io/kubernetes" {print $3}' "$TOOLS_MODULE/go.mod")

kube_tool() {
    local name=$1
    if [ "$name" = kubectl ] && command -v kubectl >/dev/null 2>&1 &&
        kubectl version --client 2>/dev/null | grep -q 'Kustomize Version: v5'; then
        command -v kubectl
        return
    fi
    local cache=${XDG_CACHE_HOME:-$HOME/.cache}/anomalyd
    local bin
    bin=$cache/$name-$KUBE_VERSION-$(sha256sum "$TOOLS_MODULE/go.sum" | cut -c1-12)
    if [ ! -x "$bin" ]; then
        if ! command -v "${GO:-go}" >/dev/null 2>&1; then
            echo "$name $KUBE_VERSION is not here (nor kubectl 1.27 or later on PATH), and building it needs the Go toolchain (1.23 or later)" >&2
            return 1
        fi
        echo "building $name $KUBE_VERSION with Go from deploy/kubernetes/tools (minutes, once per machine)" >&2
        mkdir -p "$cache"
        local start=$SECONDS
        local version="-X k8s.io/component-base/version.gitVersion=$KUBE_VERSION -X k8s.io/client-go/pkg/version.gitVersion=$KUBE_VERSION"
        (cd "$TOOLS_MODULE" && "${GO:-go}" build -ldflags "$version" -o "$bin.tmp" "k8s.io/kubernetes/cmd/$name") >&2 || return 1
        mv "$bin.tmp" "$bin"
        echo "$name built in $((SECONDS - start)) s" >&2
    fi
    echo "$bin"
}
