"""Compiled per-bucket kernels: the numba decorator the engine uses and where its cache lives.

A bucket of one series is a few hundred floating-point operations; as numpy calls each costs a
microsecond of overhead, so the per-series models loop over series in compiled code. Kernels
are compiled on first call and cached on disk, in a directory named by a hash of the engine's
sources and numba's version: numba itself checks only the timestamp of the file a kernel is
defined in, not of the kernels it calls from other files, and would load stale code after such
an edit. warmup.py compiles every kernel once, at install and when a server starts.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, cast

import numba
from llvmlite import ir  # type: ignore[import-untyped]
from numba.core import cgutils, types
from numba.experimental import structref
from numba.extending import intrinsic

F = TypeVar("F", bound=Callable[..., Any])

_ENGINE = Path(__file__).resolve().parent


def cache_dir() -> Path:
    """Where compiled kernels are cached: $ANOMALYD_KERNEL_CACHE, else under ~/.cache/anomalyd."""
    digest = hashlib.sha256(numba.__version__.encode())
    for source in sorted(_ENGINE.glob("*.py")):
        digest.update(source.name.encode() + source.read_bytes())
    base = os.environ.get("ANOMALYD_KERNEL_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "anomalyd", "kernels"
    )
    return Path(base) / digest.hexdigest()[:16]


def writable(cache: Path) -> Path:
    """cache, or a copy of it under the temp dir when cache cannot be written to.

    numba loads kernels only from a directory it can write to, and an image's root file system
    is read-only at run time: the kernels baked into it are copied (a few MB) to where they load.
    """
    if not cache.is_dir() or os.access(cache, os.W_OK):
        return cache
    copy = Path(tempfile.gettempdir()) / "anomalyd-kernels" / cache.name
    shutil.copytree(cache, copy, dirs_exist_ok=True)
    return copy


numba.config.CACHE_DIR = str(writable(cache_dir()))  # type: ignore[attr-defined]


def kernel(fn: F) -> F:
    """Compile fn with numba (no Python objects, cached on disk, releasing the GIL)."""
    return cast(F, numba.njit(cache=True, nogil=True, error_model="numpy")(fn))


def reassociating_kernel(fn: F) -> F:
    """kernel(fn), free to add floating-point numbers in any order, so that its loops' sums run on vector registers.

    Its sums may differ from an in-order sum in the last bits: for bounds and tests that allow
    for that, never for a value a result is made of.
    """
    return cast(F, numba.njit(cache=True, nogil=True, error_model="numpy", fastmath={"reassoc"})(fn))


def inline_kernel(fn: F) -> F:
    """kernel(fn), inlined into the kernels that call it (at numba's IR level).

    A call between kernels passes each array argument with a reference count increment and
    decrement; a per-series helper that takes a part's dozen arrays costs more in those than in
    its arithmetic, so it is inlined instead.
    """
    return cast(F, numba.njit(cache=True, nogil=True, error_model="numpy", inline="always")(fn))


def _prefetch(typingctx: Any, array: Any, i: Any, j: Any) -> Any:
    """The typing and code of prefetch(), a numba intrinsic: LLVM's prefetch of array[i, j]'s address."""

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        aryty = signature.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        inds = [context.cast(builder, v, t, types.intp) for v, t in zip(args[1:], signature.args[1:], strict=True)]
        item = cgutils.get_item_pointer(context, builder, aryty, ary, inds)  # type: ignore[no-untyped-call]
        hint = cgutils.get_or_insert_function(builder.module, _PREFETCH, "llvm.prefetch.p0i8")  # type: ignore[no-untyped-call]
        # For writing (1), kept in every cache level (3), data (1).
        builder.call(hint, [builder.bitcast(item, _BYTE_POINTER), _I32(1), _I32(3), _I32(1)])
        return context.get_dummy_value()

    return types.void(array, i, j), codegen


_I32 = ir.IntType(32)
_BYTE_POINTER = ir.IntType(8).as_pointer()
_PREFETCH = ir.FunctionType(ir.VoidType(), [_BYTE_POINTER, _I32, _I32, _I32])

prefetch = cast(Callable[[Any, int, int], None], intrinsic(_prefetch))
"""Ask the CPU to load the cache line of array[i, j] (a 2-D array, indices in bounds), to be written, without waiting.

A per-series loop reads a few bins of long rows at addresses the hardware prefetcher cannot
foresee (a component's bin, a window's slot): each read waits for memory in turn, where lines
asked for a few series ahead arrive in parallel. A hint only: results are the same. Compiled
code only.
"""


@structref.register
class BoundType(types.StructRef):
    """The compiled type of a Bound: its fields' types are those of the tuples it was built from."""

    def preprocess_fields(self, fields: Any) -> Any:
        """Field types as their values' types, without literal values."""
        return tuple((name, types.unliteral(t)) for name, t in fields)  # type: ignore[no-untyped-call]


class Bound(structref.StructRefProxy):
    """Tuples of state arrays bound into one compiled object, which a kernel takes as one argument.

    A kernel call converts each array it is given, some 70 ns apiece: a detector's model, rating
    and rings hold about 45, which for one series cost more than a bucket's arithmetic. A Bound
    holds the tuples (model, run, rating: see detector_scorer) and converts as one object; its
    owner builds it again whenever an array in them is replaced.
    """

    model: tuple[Any, ...]
    run: tuple[Any, ...]
    rating: tuple[Any, ...]


structref.define_proxy(Bound, BoundType, ["model", "run", "rating"])  # type: ignore[no-untyped-call]


@kernel
def bind(model: tuple[Any, ...], run: tuple[Any, ...], rating: tuple[Any, ...]) -> Bound:
    """A Bound of the three tuples (a cached kernel: the proxy's own constructor compiles anew in every process)."""
    return Bound(model, run, rating)  # type: ignore[no-untyped-call]
