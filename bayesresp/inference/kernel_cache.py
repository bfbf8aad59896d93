"""A guard against stale Numba caches for the compiled kernel.

Numba's disk cache (``cache=True``) keys a function's compiled code on its own source
file's time stamp and size. The kernel's functions call, and inline, Numba functions of
other files (:mod:`bayesresp.maths.links_numba`), and freeze constants of others into
their machine code (the link codes of :mod:`bayesresp.maths.links`, the header layout and
prior codes of :mod:`bayesresp.inference.packing`); an edit there would
leave the kernel's cached machine code as it was, silently. The guard closes that gap: it
hashes every source file the kernel's compiled code depends on (and Numba's version),
keeps the hash beside each module's cache files, and when the hash differs it removes
those modules' cache files, so that Numba compiles afresh and writes a new cache.

``tests/inference/test_kernel_cache.py`` edits the hash as an edit of a callee would and checks
that the kernel then recompiles.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from types import ModuleType

STAMP = "bayesresp-numba-sources.sha256"


def sources_digest(modules: list[ModuleType]) -> str:
    """sha256 of Numba's version and the source of every module, in order."""
    import numba

    h = hashlib.sha256(numba.__version__.encode())
    for module in modules:
        h.update(Path(module.__file__).read_bytes())
    return h.hexdigest()


def cache_dir(module: ModuleType) -> Path | None:
    """Where Numba keeps the cache files of ``module``'s functions (None if it has no
    cached function)."""
    for value in vars(module).values():
        cache = getattr(value, "_cache", None)
        path = getattr(cache, "_cache_path", None)
        func = getattr(value, "py_func", None)
        if path and func is not None and func.__module__ == module.__name__:
            return Path(path)
    return None


def guard(modules: list[ModuleType]) -> bool:
    """Remove the cache files of ``modules`` when their sources changed since the cache
    was written; return True when it did. Call before any of their cached functions is
    first used (at import)."""
    digest = sources_digest(modules)
    removed = False
    for module in modules:
        where = cache_dir(module)
        if where is None or not where.is_dir():
            continue
        stamp = where / f"{Path(module.__file__).stem}.{STAMP}"
        try:
            if stamp.read_text().strip() == digest:
                continue
        except OSError:
            pass
        stem = Path(module.__file__).stem
        for f in where.iterdir():
            if f.name.startswith(stem + ".") and f.suffix in (".nbi", ".nbc"):
                try:
                    f.unlink()
                    removed = True
                except OSError:  # another process removed it first
                    pass
        tmp = stamp.with_name(f"{stamp.name}.{os.getpid()}.tmp")
        try:
            tmp.write_text(digest + "\n")
            os.replace(tmp, stamp)
        except OSError:  # a read-only cache folder: Numba will not write there either
            pass
    return removed
