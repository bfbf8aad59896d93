"""Progress bars for long work (tqdm: a widget in Jupyter, a line in a terminal).

Every function that may take long takes ``progress=`` (True by default) and passes it
here; a bar appears only when the work lasts more than a second, and ``progress=False``
turns it off (tests, scripts, batch jobs).
"""

from __future__ import annotations

from typing import Any


def bar(total: int, description: str, enabled: bool = True) -> Any:
    """A progress bar over ``total`` units; use as a context manager, ``.update(n)``."""
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=description, disable=not enabled, delay=1.0, leave=False)
