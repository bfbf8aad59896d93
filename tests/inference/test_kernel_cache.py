"""The kernel's Numba cache cannot go stale: an edit of a Numba file the kernel inlines
(bayesresp.maths.links_numba) makes the next process recompile the kernel."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import types
from pathlib import Path

from bayesresp.inference import kernel_cache

# A cheap cached function of the kernel, called once; its cache statistics say whether
# it was loaded from the disk cache or compiled.
PROBE = """
import json, numpy as np
from bayesresp.inference import kernel
kernel._n_cut(10, 2, np.zeros((1, 3), dtype=np.int64))
print(json.dumps({"refreshed": kernel.CACHE_REFRESHED,
                  "hits": sum(kernel._n_cut.stats.cache_hits.values()),
                  "misses": sum(kernel._n_cut.stats.cache_misses.values())}))
"""


def _run(cache_dir: Path) -> dict:
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache_dir))
    out = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_an_edited_callee_file_recompiles_the_kernel(tmp_path):
    first = _run(tmp_path)  # an empty cache: compiled, nothing removed
    assert first["misses"] == 1 and not first["refreshed"]
    second = _run(tmp_path)  # the same sources: loaded from the cache
    assert second["hits"] == 1 and second["misses"] == 0 and not second["refreshed"]
    # What an edit of links_numba.py does to the guard: the recorded digest no longer
    # matches the sources.
    (stamp,) = tmp_path.rglob(f"kernel.{kernel_cache.STAMP}")
    stamp.write_text("0" * 64 + "\n")
    third = _run(tmp_path)
    assert third["refreshed"] and third["misses"] == 1 and third["hits"] == 0
    fourth = _run(tmp_path)  # and the fresh cache is used again
    assert fourth["hits"] == 1 and not fourth["refreshed"]


def test_the_digest_covers_every_listed_source(tmp_path):
    files = []
    for name in ("a", "b"):
        path = tmp_path / f"{name}.py"
        path.write_text(f"X = '{name}'\n")
        module = types.ModuleType(name)
        module.__file__ = str(path)
        files.append(module)
    before = kernel_cache.sources_digest(files)
    Path(files[1].__file__).write_text("X = 'edited'\n")
    assert kernel_cache.sources_digest(files) != before
    assert kernel_cache.sources_digest(files[:1]) != kernel_cache.sources_digest(files)


def test_the_kernel_guards_its_callees():
    """The kernel's guard lists every file of Numba code it inlines: the modules it
    imports that load Numba, and theirs in turn (links_numba inlines vector_numba)."""
    from bayesresp.inference import kernel

    guarded = {m.__name__ for m in kernel.GUARDED}
    assert kernel.__name__ in guarded

    def numba_modules(module):
        return {
            m
            for m in vars(module).values()
            if isinstance(m, types.ModuleType)
            and hasattr(m, "njit")
            and m.__name__.startswith("bayesresp")
        }

    seen, todo = set(), numba_modules(kernel)
    while todo:
        module = todo.pop()
        if module.__name__ not in seen:
            seen.add(module.__name__)
            todo |= numba_modules(module)
    assert {"bayesresp.maths.links_numba", "bayesresp.maths.vector_numba"} <= seen
    assert seen <= guarded, seen - guarded
