"""Progress bars for long work (tqdm: a widget in Jupyter, a line in a terminal).

Fitting (nutpie's own bar), SBC and posterior predictive checks take ``progress=`` (True
by default); a bar appears only when the work lasts more than a second, and
``progress=False`` turns it off (tests, scripts, batch jobs).
"""

from __future__ import annotations

from typing import Any


def bar(total: int, description: str, enabled: bool = True) -> Any:
    """A progress bar over ``total`` units; use as a context manager, ``.update(n)``.

    A notebook widget where Jupyter's widgets are installed, a text line otherwise (tqdm's
    notebook bar fails without ipywidgets rather than falling back).
    """
    try:
        import ipywidgets  # noqa: F401
        from tqdm.auto import tqdm
    except ImportError:
        from tqdm.std import tqdm

    return tqdm(total=total, desc=description, disable=not enabled, delay=1.0, leave=False)
