"""The array operations the maths needs, under one set of names for NumPy and PyTensor.

Functions written against ``xp`` (``NUMPY`` or ``TENSOR``) are one body for both
dialects: the model's graph and predictions from posterior draws then share their
formulas, and a test compares the two evaluations. PyTensor is imported only when a
``TENSOR`` operation runs.
"""

from __future__ import annotations

import numpy as np
from scipy import special

#: Padding of the outer cutpoints (see :mod:`bayesresp.maths.cumulative`); a link with
#: heavy tails pads further (:attr:`bayesresp.maths.links.Link.pad`).
PAD = 200.0


class _NumpyOps:
    name = "numpy"
    exp = staticmethod(np.exp)
    dot = staticmethod(np.dot)
    zeros_like = staticmethod(np.zeros_like)
    expm1 = staticmethod(np.expm1)
    log = staticmethod(np.log)
    log1p = staticmethod(np.log1p)
    arctan2 = staticmethod(np.arctan2)
    where = staticmethod(np.where)
    minimum = staticmethod(np.minimum)
    maximum = staticmethod(np.maximum)
    erfc = staticmethod(special.erfc)
    erfcx = staticmethod(special.erfcx)

    @staticmethod
    def asarray(x):
        return np.asarray(x, dtype=float)

    @staticmethod
    def softplus(x):
        """log(1 + exp(x)) without overflow."""
        return np.logaddexp(0.0, x)

    @staticmethod
    def log1mexp(x):
        """log(1 - exp(x)) for x <= 0, accurate near 0 and for very negative x."""
        x = np.asarray(x, dtype=float)
        with np.errstate(divide="ignore"):
            return np.where(x > -np.log(2.0), np.log(-np.expm1(x)), np.log1p(-np.exp(x)))

    @staticmethod
    def concat_pad(c, pad=PAD):
        c = np.asarray(c, dtype=float)
        shape = (*c.shape[:-1], 1)
        return np.concatenate([np.full(shape, -pad), c, np.full(shape, pad)], axis=-1)

    @staticmethod
    def concatenate(parts, axis=-1):
        return np.concatenate(parts, axis=axis)

    @staticmethod
    def cumsum(x, axis=-1):
        return np.cumsum(x, axis=axis)


class _TensorOps:
    name = "pytensor"

    def __getattr__(self, name):
        import pytensor.tensor as pt

        return {"where": pt.switch, "asarray": pt.as_tensor_variable}.get(name) or getattr(pt, name)

    @staticmethod
    def concat_pad(c, pad=PAD):
        import pytensor.tensor as pt

        c = pt.as_tensor_variable(c)
        if c.ndim == 1:
            return pt.concatenate([pt.as_tensor([-pad]), c, pt.as_tensor([pad])])
        edge = pt.ones_like(c[..., :1])  # thresholds per row: each row padded
        return pt.concatenate([-pad * edge, c, pad * edge], axis=-1)

    @staticmethod
    def concatenate(parts, axis=-1):
        import pytensor.tensor as pt

        return pt.concatenate(parts, axis=axis)

    @staticmethod
    def cumsum(x, axis=-1):
        import pytensor.tensor as pt

        return pt.cumsum(x, axis=axis)


NUMPY = _NumpyOps()
TENSOR = _TensorOps()
