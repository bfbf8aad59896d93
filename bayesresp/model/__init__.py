"""The model: formula, specification, priors, design (data + formula -> arrays), and the
PyMC graph (``graph``).

May import: ``bayesresp.data`` and the base modules. Only ``graph`` imports PyMC, and
nothing else here imports ``graph``: reading a specification or building a design stays
light.
"""


def __getattr__(name: str):
    # Names of the old module bayesresp.model, forwarded with a DeprecationWarning.
    from bayesresp._moved import old_name

    return old_name(__name__, name)
