"""Reading the package's TOML files (model specifications, scenario rules) with one-line errors.

TOML files are UTF-8 by definition. A file that is not (saved as Latin-1 or UTF-16 by
an editor), that cannot be read, or that is not valid TOML raises the caller's error
class with one line naming the file and the place: the line, column and byte offset of
the first byte that is not UTF-8, or the line and column tomllib reports. A UTF-8 byte
order mark, which some editors write, is accepted.

:func:`closest` and :func:`shown` help messages about what a file holds: the key a typo
meant, and a value with its kind (the text "false", the number 5, a table).
"""

from __future__ import annotations

import codecs
import difflib
import json
import tomllib
from pathlib import Path
from typing import Any

from bayesresp.errors import BayesrespError


def read_toml(path: str | Path, what: str, error: type[BayesrespError]) -> dict[str, Any]:
    """The TOML document at ``path`` as a dict; ``what`` names the kind of file in
    messages ("specification", "rules") and ``error`` is the class raised.

    Examples
    --------
    >>> from bayesresp.errors import SpecError
    >>> read_toml("no/such.toml", "specification", SpecError)
    Traceback (most recent call last):
    ...
    bayesresp.errors.SpecError: specification file not found: no/such.toml
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise error(f"{what} file not found: {path}") from None
    except OSError as exc:  # a folder, no permission ...
        raise error(f"cannot read {what} file {path}: {exc.strerror or exc}") from None
    if raw.startswith(codecs.BOM_UTF8):
        raw = raw[len(codecs.BOM_UTF8) :]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise error(
            f"{what} file {path} is not UTF-8 text: byte 0x{raw[exc.start]:02x} at line {line}, "
            f"column {column} (byte {exc.start + 1}) is not UTF-8; save the file as UTF-8"
        ) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = " ".join(str(exc).split())
        raise error(f"{what} file {path} is not valid TOML: {message}") from None
    except RecursionError:  # arrays or inline tables nested thousands deep
        raise error(f"{what} file {path} is nested too deeply to read") from None


def closest(value: str, options: list[str] | tuple[str, ...]) -> str | None:
    """The option a typo most likely meant: the same but for case or the order of an
    interaction's parts ('interlocutor:duty_location'), else difflib's closest, if close
    enough."""
    folded = {_fold(o): o for o in options}
    if _fold(value) in folded:
        return folded[_fold(value)]
    match = difflib.get_close_matches(value, list(options), n=1, cutoff=0.6)
    return match[0] if match else None


def _fold(text: str) -> str:
    return ":".join(sorted(text.lower().split(":")))


def shown(value: Any) -> str:
    """A value as a message shows it, with its kind: the text "false", the number 5."""
    if isinstance(value, str):
        text = value if len(value) <= 60 else value[:57] + "..."
        return f"the text {json.dumps(text, ensure_ascii=False)}"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list | tuple):
        return "a list"
    if value is None:
        return "nothing (None)"
    return f"{type(value).__name__} {value}"
