"""PyMC's log density as the tests' reference, evaluated without compiling C.

The tests that tie the kernel, compression or ranges to PyMC's graph evaluate that graph at
a few points. PyTensor's default mode compiles every graph to C first, which on a machine
whose PyTensor cache is cold (a fresh CI machine) costs a minute or more per graph; its
Python linker runs each operation's NumPy implementation instead and needs no compiler.
The values are the same computations, so the tests' rounding tolerances hold.
"""

from __future__ import annotations

from pytensor.compile.mode import Mode

#: The mode of every reference evaluation of a PyMC graph in the tests.
PY = Mode(linker="py", optimizer="fast_compile")


def logp_dlogp(model):
    """The model's log density and its gradient, compiled with :data:`PY`."""
    return model.compile_logp(mode=PY), model.compile_dlogp(mode=PY)
