"""The codebook: what each column of a coded data set means and may hold.

A codebook is a Frictionless Table Schema (JSON) with a few extra properties that
bayesresp reads:

``role``
    ``outcome`` (exactly one field: the spectrum), ``covariate``, ``group`` (grouping
    factors such as ``mission``), ``identifier`` or ``bookkeeping``.
``block``
    for covariates, the family of factors: ``incident``, ``individual``,
    ``departmental``, ``positional`` or ``mission`` (user codebooks may name others).
``categories`` / ``categoriesOrdered``
    the allowed labels in order (Table Schema v2); ordered fields are ordinal.
``codes``
    optional integer codes accepted in place of the labels, one per category.
``constantWithin``
    columns within whose groups the value must not vary (mission context is constant
    within a mission; an official's background is constant for that official).
``nestedIn``
    for a grouping factor nested in another (``department`` in ``mission``).
``rangeColumns``
    on the outcome only: the names of two optional data columns, ``[low, high]``, in
    which an ambiguous code is written as a range of the outcome's levels (both ends
    included) when the outcome's own cell is left empty (``["response_low",
    "response_high"]`` in the default codebook).
``dialect``
    optional, at the top level: ``{"delimiter": ";"}`` for data files whose cells are
    separated by another character than a comma (the ``delimiter`` of a Frictionless
    Table Dialect; a name such as ``"semicolon"`` or ``"tab"`` is accepted too). Other
    dialect properties are refused rather than ignored: bayesresp reads CSV with a
    header row, double quotes and doubled quotes inside quoted cells only.

The default codebook's one source of truth is ``data_schema/codebook.json``;
``data_schema/CODEBOOK.md`` is generated from it (``bayesresp codebook --markdown``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bayesresp.data.tables import as_delimiter
from bayesresp.errors import CodebookError, DataFileError

ROLES = ("outcome", "covariate", "group", "identifier", "bookkeeping")
DEFAULT_BLOCKS = ("incident", "individual", "departmental", "positional", "mission")
TYPES = ("string", "number", "integer")


@dataclass(frozen=True)
class Field:
    """One column of the codebook."""

    name: str
    type: str
    role: str
    required: bool = False
    title: str = ""
    description: str = ""
    block: str | None = None
    categories: tuple[str, ...] | None = None
    ordered: bool = False
    codes: tuple[int, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    constant_within: tuple[str, ...] = ()
    nested_in: str | None = None
    hypothesis: str = ""
    unit: str = ""
    level_descriptions: dict[str, str] = field(default_factory=dict)
    range_columns: tuple[str, str] | None = None

    @property
    def kind(self) -> str:
        """``ordinal``, ``categorical``, ``continuous``, ``integer`` or ``text``."""
        if self.categories is not None:
            return "ordinal" if self.ordered else "categorical"
        if self.type == "number":
            return "continuous"
        if self.type == "integer":
            return "integer"
        return "text"

    def code_to_label(self) -> dict[int, str]:
        """Map of accepted integer codes to labels (empty when codes are not accepted)."""
        if self.codes is None or self.categories is None:
            return {}
        return dict(zip(self.codes, self.categories, strict=True))

    def expected(self) -> str:
        """A short phrase saying what a valid value looks like."""
        if self.categories is not None:
            labels = ", ".join(self.categories)
            what = "one of" if not self.ordered else "one of (in order)"
            text = f"{what}: {labels}"
            if self.codes is not None:
                text += f" (or an integer code {self.codes[0]}-{self.codes[-1]})"
            return text
        if self.type in ("number", "integer"):
            noun = "a number" if self.type == "number" else "a whole number"
            if self.minimum is not None and self.maximum is not None:
                return f"{noun} from {_fmt(self.minimum)} to {_fmt(self.maximum)}"
            if self.minimum is not None:
                return f"{noun} of at least {_fmt(self.minimum)}"
            if self.maximum is not None:
                return f"{noun} of at most {_fmt(self.maximum)}"
            return noun
        return "text"


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


class Codebook:
    """A validated codebook.

    Parameters
    ----------
    spec : dict
        The Table Schema as a dict (what ``json.load`` gives for a codebook file).
    origin : str, optional
        Where it came from, for messages.

    Examples
    --------
    >>> from bayesresp import Codebook
    >>> cb = Codebook.default()
    >>> cb.spectrum[:3]
    ('conceal', 'silence', 'mild_concern')
    >>> cb.field("severity").kind
    'ordinal'
    """

    def __init__(self, spec: dict[str, Any], origin: str = "<dict>"):
        self.origin = origin
        self._spec = json.loads(json.dumps(spec))  # a private deep copy, JSON-clean
        self.name: str = spec.get("name", "codebook")
        self.title: str = spec.get("title", self.name)
        self.description: str = spec.get("description", "")
        self.version: str = str(spec.get("version", ""))
        self.missing_values: tuple[str, ...] = tuple(spec.get("missingValues", [""]))
        self.fields: dict[str, Field] = _parse_fields(spec, origin)
        self.row_key: tuple[str, ...] = tuple(spec.get("rowKey", ()))
        self.delimiter: str | None = _parse_dialect(spec, origin)
        _check_structure(self, origin)

    # -- construction ------------------------------------------------------------------
    @classmethod
    def default(cls) -> Codebook:
        """The default codebook of the domain (``data_schema/codebook.json``)."""
        return cls.from_file(default_codebook_path())

    @classmethod
    def from_file(cls, path: str | Path) -> Codebook:
        """Read a codebook (Table Schema JSON) from ``path``."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise CodebookError(f"codebook file not found: {path}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise CodebookError(f"cannot read codebook {path}: {exc}") from None
        try:
            spec = json.loads(text)
        except json.JSONDecodeError as exc:
            raise CodebookError(
                f"codebook {path} is not valid JSON: {exc.msg} at line {exc.lineno}, "
                f"column {exc.colno}"
            ) from None
        if not isinstance(spec, dict):
            raise CodebookError(f"codebook {path} must hold a JSON object with 'fields'")
        return cls(spec, origin=str(path))

    @classmethod
    def coerce(cls, codebook: Codebook | str | Path | dict | None) -> Codebook:
        """Accept whatever a user may pass as a codebook; ``None`` means the default."""
        if codebook is None:
            return cls.default()
        if isinstance(codebook, Codebook):
            return codebook
        if isinstance(codebook, dict):
            return cls(codebook)
        if isinstance(codebook, str | Path):
            return cls.from_file(codebook)
        raise CodebookError(
            f"a codebook must be a Codebook, a dict or the path of a JSON file, "
            f"not {type(codebook).__name__}"
        )

    @classmethod
    def infer(
        cls,
        frame: pd.DataFrame,
        outcome: str,
        variables: Iterable[str],
        groups: Iterable[str] = (),
    ) -> Codebook:
        """A codebook read off a DataFrame, for data that come without one.

        The outcome's levels come from an ordered categorical, else from its sorted
        values (integers as their decimal text, with the integers accepted as codes).
        Categorical and text columns become nominal covariates (levels in categorical
        order, else sorted); numeric columns continuous; ``groups`` grouping factors.

        When the frame has columns ``<outcome>_low`` and ``<outcome>_high``, they are
        the outcome's range columns (``rangeColumns``: ambiguous codes written as a
        range of levels), never covariates; the outcome's levels then include those met
        only in them, and whole numbers that a float column holds (pandas writes integer
        columns with empty cells as floats) are read as the integers they are.
        """
        groups = set(groups)
        if outcome not in frame:
            raise CodebookError(f"the data have no outcome column '{outcome}'")
        ranges = (f"{outcome}_low", f"{outcome}_high")
        has_ranges = all(r in frame for r in ranges)
        fields = []
        for name in dict.fromkeys([outcome, *variables]):
            if name not in frame or (has_ranges and name in ranges):
                continue  # absent: reported by the caller, with the formula's context
            s = frame[name]
            if name in groups:
                fields.append(
                    {
                        "name": name,
                        "type": "string",
                        "role": "group",
                        "constraints": {"required": True},
                    }
                )
                continue
            role = "outcome" if name == outcome else "covariate"
            if (
                name != outcome
                and pd.api.types.is_numeric_dtype(s)
                and not (pd.api.types.is_bool_dtype(s))
            ):
                fields.append({"name": name, "type": "number", "role": role, "block": "covariates"})
                continue
            f: dict[str, Any] = {"name": name, "type": "string", "role": role}
            if isinstance(s.dtype, pd.CategoricalDtype) and (s.cat.ordered or role != "outcome"):
                f["categories"] = [str(c) for c in s.cat.categories]
                f["categoriesOrdered"] = bool(s.cat.ordered) or role == "outcome"
            else:
                pool = [s] + (
                    [frame[r] for r in ranges] if role == "outcome" and has_ranges else []
                )
                values = list(
                    dict.fromkeys(v for col in pool for v in col.dropna().unique().tolist())
                )
                if len(pool) > 1 and values and all(_is_whole(v) for v in values):
                    values = list(dict.fromkeys(int(v) for v in values))
                try:
                    values = sorted(values)
                except TypeError:  # text and numbers mixed: order them as text
                    values = sorted(values, key=str)
                f["categories"] = [str(v) for v in values]
                f["categoriesOrdered"] = role == "outcome"
                if values and all(_is_int(v) for v in values):
                    f["codes"] = [int(v) for v in values]
            if role == "covariate":
                f["block"] = "covariates"
            if role == "outcome":
                f["constraints"] = {"required": True}
                if has_ranges:
                    f["rangeColumns"] = list(ranges)
            fields.append(f)
        spec = {
            "name": "inferred",
            "title": "Codebook inferred from the data",
            "missingValues": [""],
            "fields": fields,
        }
        return cls(spec, origin="<inferred from the data>")

    def prepare(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Write the cells of label columns as text, as an inferred codebook expects.

        Used only with :meth:`infer`: booleans and other non-integer values of
        categorical columns become their text (``True`` -> ``"True"``); integers stay
        integers, which the inferred codebook accepts as codes, and so do whole numbers
        held as floats in a column with codes (``3.0`` -> ``3``). The outcome's range
        columns are kept and written like the outcome.
        """
        extra = set(self.range_columns or ())
        out = frame.loc[:, [c for c in frame.columns if c in self.fields or c in extra]].copy()
        for f in self.fields.values():
            if f.categories is None:
                continue
            names = [f.name, *(f.range_columns or ())]
            for name in names:
                if name not in out:
                    continue
                cells = [_as_cell(v, f) for v in out[name].astype(object)]
                out[name] = pd.Series(cells, index=out.index, dtype=object)
        return out

    # -- queries -----------------------------------------------------------------------
    def field(self, name: str) -> Field:
        """The field called ``name``; a clear error naming the known fields otherwise."""
        try:
            return self.fields[name]
        except KeyError:
            known = ", ".join(self.fields)
            raise CodebookError(
                f"the codebook '{self.name}' has no column '{name}' (it has: {known})"
            ) from None

    @property
    def outcome(self) -> Field:
        """The outcome field: the ordered spectrum."""
        return next(f for f in self.fields.values() if f.role == "outcome")

    @property
    def range_columns(self) -> tuple[str, str] | None:
        """The outcome's range columns ``(low, high)``, or None when it declares none."""
        return self.outcome.range_columns

    @property
    def spectrum(self) -> tuple[str, ...]:
        """The outcome's ordered levels, most conciliatory first."""
        return self.outcome.categories  # type: ignore[return-value]

    @property
    def covariates(self) -> list[Field]:
        """The fields with role ``covariate``, in codebook order."""
        return [f for f in self.fields.values() if f.role == "covariate"]

    @property
    def groups(self) -> list[Field]:
        """The fields with role ``group`` (missions, departments, officials ...)."""
        return [f for f in self.fields.values() if f.role == "group"]

    @property
    def required(self) -> list[Field]:
        """The fields every data row must fill."""
        return [f for f in self.fields.values() if f.required]

    def blocks(self) -> dict[str, list[str]]:
        """Covariate names by block, in codebook order."""
        out: dict[str, list[str]] = {}
        for f in self.covariates:
            out.setdefault(f.block or "other", []).append(f.name)
        return out

    def to_dict(self) -> dict[str, Any]:
        """The codebook as the JSON-ready dict it was built from."""
        return json.loads(json.dumps(self._spec))

    def to_json(self) -> str:
        """Canonical JSON text (sorted keys): what fit files store."""
        return json.dumps(self._spec, sort_keys=True, ensure_ascii=False, indent=None)

    def digest(self) -> str:
        """SHA-256 of the canonical JSON: identifies a codebook in saved fits."""
        return hashlib.sha256(self.to_json().encode("utf-8")).hexdigest()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Codebook) and self.to_json() == other.to_json()

    def __hash__(self) -> int:
        return hash(self.digest())

    def __repr__(self) -> str:
        return (
            f"Codebook({self.name!r}, {len(self.fields)} columns, "
            f"spectrum of {len(self.spectrum)} levels)"
        )

    def to_markdown(self) -> str:
        """The human-readable codebook (what ``data_schema/CODEBOOK.md`` holds)."""
        from bayesresp.data.codebook_doc import render_markdown

        return render_markdown(self)


def _is_int(v: Any) -> bool:
    return isinstance(v, int | np.integer) and not isinstance(v, bool | np.bool_)


def _is_whole(v: Any) -> bool:
    """An integer, or a float that is a whole number (not a boolean)."""
    return _is_int(v) or (isinstance(v, float | np.floating) and float(v).is_integer())


def _as_cell(v: Any, f: Field) -> Any:
    """A cell of a label column as :meth:`Codebook.prepare` writes it."""
    if v is None or _is_int(v) or isinstance(v, str):
        return v
    if isinstance(v, float | np.floating) and np.isnan(v):
        return v
    if f.codes is not None and _is_whole(v):
        return int(v)
    return str(v)


def default_codebook_path() -> Path:
    """Where the default codebook lives.

    In a source checkout (also an editable install) this is ``data_schema/codebook.json``
    itself; a wheel carries a copy as package data (``bayesresp/data/codebook.json``).
    """
    checkout = Path(__file__).resolve().parents[2] / "data_schema" / "codebook.json"
    if checkout.is_file():
        return checkout
    packaged = resources.files("bayesresp") / "data" / "codebook.json"
    return Path(str(packaged))


# -- parsing and checking the codebook itself ------------------------------------------
def _parse_dialect(spec: dict[str, Any], origin: str) -> str | None:
    """The delimiter the codebook's ``dialect`` gives data files, or None."""
    dialect = spec.get("dialect")
    if dialect is None:
        return None
    if not isinstance(dialect, dict):
        raise CodebookError(
            f'codebook {origin}: "dialect" must be an object such as {{"delimiter": ";"}}'
        )
    other = sorted(set(dialect) - {"delimiter"})
    if other:
        raise CodebookError(
            f'codebook {origin}: "dialect" may give only "delimiter"; bayesresp does not '
            f"read {', '.join(repr(k) for k in other)}"
        )
    if "delimiter" not in dialect:
        return None
    try:
        return as_delimiter(dialect["delimiter"])
    except DataFileError as exc:
        raise CodebookError(f'codebook {origin}: "dialect": {exc}') from None


def _parse_fields(spec: dict[str, Any], origin: str) -> dict[str, Field]:
    raw_fields = spec.get("fields")
    if not isinstance(raw_fields, list) or not raw_fields:
        raise CodebookError(f"codebook {origin}: 'fields' must be a non-empty list")
    out: dict[str, Field] = {}
    for i, raw in enumerate(raw_fields):
        where = f"codebook {origin}, field {i + 1}"
        if not isinstance(raw, dict) or not isinstance(raw.get("name"), str) or not raw["name"]:
            raise CodebookError(f"{where}: each field needs a 'name' (a non-empty string)")
        name = raw["name"]
        where = f"codebook {origin}, field '{name}'"
        if name in out:
            raise CodebookError(f"{where}: the name is used twice")
        ftype = raw.get("type", "string")
        if ftype not in TYPES:
            raise CodebookError(f"{where}: type '{ftype}' is not one of {', '.join(TYPES)}")
        role = raw.get("role", "covariate" if ftype != "string" or "categories" in raw else "")
        if role not in ROLES:
            raise CodebookError(
                f"{where}: role '{role}' is not one of {', '.join(ROLES)} "
                '(say what the column is for with "role")'
            )
        cons = raw.get("constraints", {}) or {}
        categories = raw.get("categories")
        if categories is not None:
            if isinstance(categories, list) and categories and isinstance(categories[0], dict):
                categories = [c.get("label", c.get("value")) for c in categories]
            if (
                not isinstance(categories, list)
                or len(categories) < 2
                or not all(isinstance(c, str) and c for c in categories)
            ):
                raise CodebookError(f"{where}: 'categories' must list at least two text labels")
            if len(set(categories)) != len(categories):
                raise CodebookError(f"{where}: 'categories' repeats a label")
            categories = tuple(categories)
        codes = raw.get("codes")
        if codes is not None:
            if categories is None:
                raise CodebookError(f"{where}: 'codes' needs 'categories'")
            if (
                not isinstance(codes, list)
                or len(codes) != len(categories)
                or not all(isinstance(c, int) and not isinstance(c, bool) for c in codes)
                or len(set(codes)) != len(codes)
            ):
                raise CodebookError(
                    f"{where}: 'codes' must list {len(categories)} distinct integers, "
                    "one per category"
                )
            # A label that reads as an integer code of another label makes a cell ambiguous.
            by_code = dict(zip(codes, categories, strict=True))
            clash = [
                c for c in categories if c.lstrip("-").isdigit() and by_code.get(int(c), c) != c
            ]
            if clash:
                raise CodebookError(
                    f"{where}: label '{clash[0]}' reads as one of the integer codes; "
                    "drop 'codes' or use labels that are not numbers"
                )
            codes = tuple(codes)
        cw = raw.get("constantWithin", ())
        if isinstance(cw, str):
            cw = (cw,)
        range_columns = raw.get("rangeColumns")
        if range_columns is not None:
            if (
                not isinstance(range_columns, list)
                or len(range_columns) != 2
                or not all(isinstance(c, str) and c for c in range_columns)
            ):
                raise CodebookError(
                    f"{where}: 'rangeColumns' must name two columns, the low and the high "
                    f'end of a range, such as ["{name}_low", "{name}_high"]'
                )
            range_columns = (range_columns[0], range_columns[1])
        out[name] = Field(
            name=name,
            type=ftype,
            role=role,
            required=bool(cons.get("required", False)),
            title=raw.get("title", ""),
            description=raw.get("description", ""),
            block=raw.get("block"),
            categories=categories,
            ordered=bool(raw.get("categoriesOrdered", False)),
            codes=codes,
            minimum=cons.get("minimum"),
            maximum=cons.get("maximum"),
            constant_within=tuple(cw),
            nested_in=raw.get("nestedIn"),
            hypothesis=raw.get("hypothesis", ""),
            unit=raw.get("unit", ""),
            level_descriptions=dict(raw.get("levelDescriptions", {})),
            range_columns=range_columns,
        )
    return out


def _check_structure(cb: Codebook, origin: str) -> None:
    outcomes = [f for f in cb.fields.values() if f.role == "outcome"]
    if len(outcomes) != 1:
        raise CodebookError(
            f"codebook {origin}: exactly one field must have role 'outcome' (found {len(outcomes)})"
        )
    out = outcomes[0]
    if out.categories is None or not out.ordered or len(out.categories) < 2:
        raise CodebookError(
            f"codebook {origin}: the outcome '{out.name}' needs ordered 'categories' "
            '("categoriesOrdered": true) with at least two levels'
        )
    for f in cb.fields.values():
        if f.range_columns is None:
            continue
        where = f"codebook {origin}, field '{f.name}'"
        if f.role != "outcome":
            raise CodebookError(
                f"{where}: only the outcome may have 'rangeColumns' (this field's role "
                f"is '{f.role}')"
            )
        low, high = f.range_columns
        if low == high:
            raise CodebookError(
                f"{where}: 'rangeColumns' names '{low}' twice; the low and the high end of "
                "a range need two columns"
            )
        for name in (low, high):
            if name in cb.fields:
                raise CodebookError(
                    f"{where}: range column '{name}' is also a field of the codebook; "
                    "'rangeColumns' must name columns the codebook does not otherwise define"
                )
    for f in cb.fields.values():
        for other in (*f.constant_within, *((f.nested_in,) if f.nested_in else ())):
            if other not in cb.fields:
                raise CodebookError(
                    f"codebook {origin}, field '{f.name}': refers to column '{other}', "
                    "which the codebook does not define"
                )
        if f.role == "covariate" and f.kind == "text":
            raise CodebookError(
                f"codebook {origin}, field '{f.name}': a covariate needs 'categories' "
                "or a numeric type"
            )
    for k in cb.row_key:
        if k not in cb.fields:
            raise CodebookError(f"codebook {origin}: rowKey names unknown column '{k}'")
