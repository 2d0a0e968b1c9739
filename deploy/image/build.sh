#!/usr/bin/env bash
# Builds the anomalyd image with podman, pulling nothing from any registry:
#   1. a base image: Debian bookworm (python3 is 3.11) made with debootstrap from Debian's
#      packages and imported into podman as localhost/anomalyd-base:bookworm, once;
#   2. wheels of anomalyd and its dependencies, built on the host by the venv's pip at the
#      versions the venv holds (so the image runs what the tests ran), into deploy/build/context;
#   3. podman build --network=none of deploy/image/Containerfile with BASE set to that base.
# It prints the image's name and size, and writes its id to deploy/build/image-id.
#
# Environment: IMAGE (default localhost/anomalyd:VERSION, also tagged :latest), BASE (any Python
# 3.11 image instead of the debootstrap one, e.g. docker.io/library/python:3.11-slim where a
# registry can be reached), PYTHON (default .venv/bin/python).
#
# Podman here runs containers with runc, whose limits must stay within this process's own:
# the script writes deploy/build/containers.conf (runtime runc, default_ulimits = the current
# hard limits) and podman reads it through CONTAINERS_CONF. Tools it lacks (podman, runc,
# debootstrap) it installs with apt-get when run as root, or stops naming them.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$ROOT/deploy/build
PYTHON=${PYTHON:-$ROOT/.venv/bin/python}
VERSION=$("$PYTHON" -c 'import anomalyd; print(anomalyd.VERSION)')
IMAGE=${IMAGE:-localhost/anomalyd:$VERSION}
DEBIAN_BASE=localhost/anomalyd-base:bookworm
BASE=${BASE:-$DEBIAN_BASE}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
mkdir -p "$BUILD"

say() { echo "build.sh: $*" >&2; }

need=(podman runc)
[ "$BASE" = "$DEBIAN_BASE" ] && need+=(debootstrap)
missing=()
for tool in "${need[@]}"; do command -v "$tool" >/dev/null 2>&1 || missing+=("$tool"); done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
        say "installing ${missing[*]} with apt-get"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    else
        say "the image build needs ${missing[*]} (Debian: apt-get install ${missing[*]}); none can be installed here"
        exit 1
    fi
fi

# crun cannot raise limits in this sandbox, and runc fails to set any limit above this process's
# hard limit (podman's defaults ask for 1048576 open files) or above the pid range: ask for what
# is allowed.
nofile=$(ulimit -Hn)
nproc=$(ulimit -Hu)
pid_max=$(cat /proc/sys/kernel/pid_max)
if [ "$nproc" = unlimited ] || [ "$nproc" -gt "$pid_max" ]; then nproc=$pid_max; fi
if [ "$nofile" = unlimited ]; then nofile=1048576; fi
conf=$(printf '# Written by deploy/image/build.sh; podman reads it through CONTAINERS_CONF.\n[containers]\ndefault_ulimits = ["nofile=%s:%s", "nproc=%s:%s"]\n\n[engine]\nruntime = "runc"\n' \
    "$nofile" "$nofile" "$nproc" "$nproc")
if [ ! -f "$BUILD/containers.conf" ] || [ "$(cat "$BUILD/containers.conf")" != "$conf" ]; then
    printf '%s\n' "$conf" >"$BUILD/containers.conf"
fi
export CONTAINERS_CONF=$BUILD/containers.conf

if [ "$BASE" = "$DEBIAN_BASE" ] && ! podman image exists "$BASE"; then
    start=$SECONDS
    rootfs=$BUILD/rootfs
    rm -rf "$rootfs"
    say "making $BASE with debootstrap (bookworm, minbase + python3) from $MIRROR"
    debootstrap --variant=minbase --include=python3 bookworm "$rootfs" "$MIRROR" >"$BUILD/debootstrap.log" 2>&1 ||
        { tail -20 "$BUILD/debootstrap.log" >&2; say "debootstrap failed (log: $BUILD/debootstrap.log)"; exit 1; }
    # Package caches, lists, documentation and translations: 125 MB left of 261 MB.
    rm -rf "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* \
        "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/locale/* "$rootfs"/var/log/*.log
    tar --numeric-owner -C "$rootfs" -c . |
        podman import --quiet --change 'CMD ["/usr/bin/python3"]' \
            --change 'LABEL org.opencontainers.image.title="Debian bookworm minbase with python3"' - "$BASE" >/dev/null
    rm -rf "$rootfs"
    say "$BASE made in $((SECONDS - start)) s"
fi

# Wheels of the project and of every dependency, at the versions the venv holds, and pip's own
# wheel to install them with (the image gets no pip).
context=$BUILD/context
rm -rf "$context"
mkdir -p "$context/wheels"
"$PYTHON" -m pip freeze --exclude-editable --disable-pip-version-check >"$BUILD/constraints.txt"
"$PYTHON" -m pip wheel --quiet --disable-pip-version-check --wheel-dir "$context/wheels" \
    --constraint "$BUILD/constraints.txt" "$ROOT" "pip==$("$PYTHON" -m pip --version | cut -d' ' -f2)" \
    >"$BUILD/wheels.log" 2>&1 || { cat "$BUILD/wheels.log" >&2; say "pip wheel failed"; exit 1; }
cp "$ROOT/deploy/image/anomalyd-probe" "$context/"

old=$(podman image inspect --format '{{.Id}}' "$IMAGE" 2>/dev/null || true)
podman build --quiet --pull=never --network=none --format=oci --layers=false \
    --build-arg "BASE=$BASE" \
    --build-arg "VERSION=$VERSION" \
    --build-arg "REVISION=$(git -C "$ROOT" rev-parse HEAD 2>/dev/null || echo unknown)" \
    --build-arg "CREATED=$(git -C "$ROOT" log -1 --format=%cI 2>/dev/null || date -u +%FT%TZ)" \
    -t "$IMAGE" -t "${IMAGE%:*}:latest" -f "$ROOT/deploy/image/Containerfile" "$context" >/dev/null
id=$(podman image inspect --format '{{.Id}}' "$IMAGE")
# The previous build of this tag is of no further use.
[ -n "$old" ] && [ "$old" != "$id" ] && podman rmi --force "$old" >/dev/null 2>&1 || true
echo "$id" >"$BUILD/image-id"
echo "$IMAGE" >"$BUILD/image-name"
size=$(podman image inspect --format '{{.Size}}' "$IMAGE")
say "built $IMAGE in $SECONDS s ($((size / 1000000)) MB, id ${id:0:12}; base $BASE)"
