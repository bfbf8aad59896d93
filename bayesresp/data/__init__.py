"""Data: codebooks, reading and validating coded tables, describing, simulating, examples.

May import: ``bayesresp.errors``, ``bayesresp.maths``, ``bayesresp.plots``,
``bayesresp.progress``; never PyMC, PyTensor or Numba (``bayesresp validate`` stays fast).
The example data set and its true parameters live here as files (``example.csv``,
``example_truth.json``).
"""
