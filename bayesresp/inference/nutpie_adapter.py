"""nutpie's model object for the compiled kernel: the only place that knows nutpie's
private fields.

nutpie samples a :class:`nutpie.compile_pymc.CompiledPyMCModel`; this module fills one
with the kernel's C callbacks and a packed design (:mod:`bayesresp.inference.packing`)
instead of a compiled PyTensor graph. The fields it sets are not nutpie's public API, so
the project pins nutpie's minor version (pyproject.toml) and ``tests/inference/test_kernel.py``
samples through it.
"""

from __future__ import annotations

import numpy as np

from bayesresp.inference.kernel import callbacks
from bayesresp.inference.packing import Packed


def nutpie_model(packed: Packed):
    """A model nutpie samples: the C callbacks, the packed data, and jittered starts
    (uniform(-1, 1) around the priors' centres in the unconstrained space, as PyMC's)."""
    from nutpie.compile_pymc import CompiledPyMCModel

    n_dim = packed.n_dim
    start = packed.start
    log_density_c, identity_c = callbacks()

    def initial_point(seed):
        return start + np.random.default_rng(seed).uniform(-1.0, 1.0, n_dim)

    return CompiledPyMCModel(
        _n_dim=n_dim,
        dims={"unconstrained": ("unconstrained_dim",)},
        _coords={"unconstrained_dim": np.arange(n_dim)},
        _shapes={"unconstrained": (n_dim,)},
        compiled_logp_func=log_density_c,
        compiled_expand_func=identity_c,
        initial_point_func=initial_point,
        # The callbacks read the arrays through the header's addresses: keep them alive.
        shared_data=dict(packed.arrays),
        shared_var_keys={},
        user_data=packed.header,
        n_expanded=n_dim,
        shape_info=(["unconstrained"], [slice(0, n_dim)], [(n_dim,)]),
        logp_func=None,
        expand_func=None,
    )


# nutpie's low-rank adaptation decomposes a matrix of the model's size as it tunes: at
# 330 dimensions (VerbAgg centred: 316 respondents) sampling took 169 s against 4.4 s with
# the diagonal one; at the benchmark's 10,000 rows (about 110) it is cheap and lifts the
# min bulk ESS from 595 to 2,025 in the same time.
LOW_RANK_MAX_DIM = 200


def nutpie_settings(packed: Packed) -> dict:
    """nutpie's settings for a packed model: centred ones of at most
    ``LOW_RANK_MAX_DIM`` dimensions use the low-rank modified mass matrix (the common
    level of the group means and the cutpoints form a ridge that a diagonal one cannot
    follow), the others the diagonal one."""
    low_rank = packed.centred and packed.n_dim <= LOW_RANK_MAX_DIM
    return {"adaptation": "low_rank" if low_rank else "diag"}
