"""Model specifications: a formula plus link, prior overrides and block assignments.

A specification file is TOML::

    name = "hierarchical"
    description = "All default covariates; mission and department-in-mission intercepts."
    formula = '''
      response ~ violation_type + severity + background + ...
               + (1 | mission/department)
    '''
    link = "logit"                  # or "probit", "cloglog", "cauchit"
    family = "cumulative"           # or "sratio", "cratio", "acat"
    thresholds = "flexible"         # or "equidistant"
    coders = "auto"                 # or "model", "rows": see below
    scale_continuous = true         # centre and scale continuous covariates

    [priors]                        # optional overrides, see bayesresp.model.priors
    b = "normal(0, 1.5)"
    "sd(mission)" = "halfnormal(0.5)"

    [blocks]                        # optional: block of a term, for the variance decomposition
    "duty_location:interlocutor" = "positional"

The file is checked against a schema before anything is fitted, and every problem is a
:class:`~bayesresp.errors.SpecError` (or its kinds :class:`~bayesresp.errors.FormulaError`
and :class:`~bayesresp.errors.PriorError`) in one line naming the file, the key, the value
and what was expected:

- ``name``, ``description``, ``formula``, ``link``, ``family``, ``thresholds`` and
  ``coders`` are text (in quotes);
  ``scale_continuous`` is ``true`` or ``false`` without quotes (``"false"``, text, is an
  error, never read as true); ``[priors]`` and ``[blocks]`` are tables of text;
- an unknown key is an error naming the closest known key (``lnk``: did you mean
  ``link``?);
- ``link`` is one of the links; ``family`` one of the ordinal families
  (:mod:`bayesresp.maths.families`: ``cumulative``, the default, ``sratio``, ``cratio``,
  ``acat``); ``thresholds`` is ``"flexible"`` (the default: every threshold a
  parameter) or ``"equidistant"`` (the first and last, the others evenly spaced between
  them: :mod:`bayesresp.maths.thresholds`); ``coders`` is ``"auto"`` (the default), ``"model"`` or
  ``"rows"``: with ``"model"``, the rows of a response coded by several coders are
  readings of its one true level, each coder with a leniency and a spread of their own
  (:mod:`bayesresp.maths.rater`); with ``"rows"`` every row is a response of its own (a
  ``(1 | coder_id)`` term then shifts each coder's codes); ``"auto"`` is ``"model"``
  when some response in the data is coded twice or more, else ``"rows"``;
- every prior is read (:func:`~bayesresp.model.priors.parse_prior`:
  known family, finite parameters, positive scales); the formula is parsed;
- every ``[blocks]`` key is a fixed term of the formula as it is written out
  (``duty_location:interlocutor``, ``mo(hierarchy_level)``), else an error names the
  closest term; its value names a block of the codebook, checked when the data's codebook
  is known (:func:`bayesresp.model.design.make_design`);
- the file is UTF-8 and valid TOML (:func:`bayesresp.data.tomlfile.read_toml`).

:meth:`ModelSpec.to_toml` writes a specification as such a file, and
:meth:`ModelSpec.from_toml` reads it back unchanged.
"""

from __future__ import annotations

import contextvars
import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bayesresp.data.tomlfile import closest, read_toml, shown
from bayesresp.errors import PriorError, SpecError
from bayesresp.maths.families import FAMILIES, Family, get_family
from bayesresp.maths.links import LINKS
from bayesresp.maths.thresholds import STRUCTURES
from bayesresp.model.formula import Formula, parse_formula
from bayesresp.model.priors import parse_prior, role_of_key

if TYPE_CHECKING:
    from bayesresp.data.codebook import Codebook

# The schema of a specification: each key and what its value must be.
_TEXT_KEYS = ("name", "description", "formula", "link", "family", "thresholds", "coders")
#: How codes of one response by several coders enter the model (``coders`` key)
CODERS = ("auto", "model", "rows")
_FLAG_KEYS = ("scale_continuous",)
_TABLE_KEYS = ("priors", "blocks")
# Off only while ModelSpec.from_dict(stored=True) reads the specification of a saved fit.
_CHECK_BLOCK_TERMS: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "_CHECK_BLOCK_TERMS", default=True
)
_KEYS = (*_TEXT_KEYS, *_FLAG_KEYS, *_TABLE_KEYS)
_EXAMPLE = {
    "formula": '"response ~ severity + (1 | mission)"',
    "link": '"logit"',
    "family": '"cumulative"',
    "thresholds": '"flexible"',
    "coders": '"auto"',
    "priors": '"normal(0, 1)"',
    "blocks": '"incident"',
}
_EXAMPLE_LINE = {"priors": 'b = "normal(0, 1)"', "blocks": 'severity = "incident"'}


def _misplaced(table: str, key: str) -> str:
    """The hint for a top-level key that TOML put in a table (written after its header)."""
    return (
        f" ('{key}' is a top-level key, and keys after [{table}] belong to it: write "
        f"'{key}' before the first table)"
    )


def _did_you_mean(value: str, options: list[str] | tuple[str, ...]) -> str:
    hint = closest(value, options)
    return f"; did you mean '{hint}'?" if hint else ""


def _check_text(where: str, value: Any, example: str | None = None) -> None:
    like = f", like {example}" if example else ""
    if not isinstance(value, str):
        raise SpecError(f"{where} must be text in quotes{like}, not {shown(value)}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise SpecError(f"{where} must be text that can be written as UTF-8") from None


def _check_types(values: dict[str, Any]) -> None:
    """Each key's value has the schema's type (the keys themselves are checked by
    :meth:`ModelSpec.from_dict`, the only way unknown ones can come in)."""
    for key in _TEXT_KEYS:
        if key in values:
            _check_text(f"'{key}'", values[key], _EXAMPLE.get(key))
    for key in _FLAG_KEYS:
        if key in values and not isinstance(values[key], bool):
            raise SpecError(
                f"'{key}' must be true or false (without quotes), not {shown(values[key])}"
            )
    for key in _TABLE_KEYS:
        table = values.get(key, {})
        if not isinstance(table, dict):
            raise SpecError(
                f"'{key}' must be a table ([{key}], then one line per entry, like "
                f"{_EXAMPLE_LINE[key]}), not {shown(table)}"
            )
        for name, value in table.items():
            if not isinstance(name, str):
                raise SpecError(f"[{key}] keys must be text, not {shown(name)}")
            if not isinstance(value, str):
                misplaced = _misplaced(key, name) if name in _KEYS else ""
                raise SpecError(
                    f"[{key}] '{name}' must be text in quotes, like {_EXAMPLE[key]}, not "
                    f"{shown(value)}{misplaced}"
                )
            _check_text(f"[{key}] '{name}'", value)


@dataclass(frozen=True)
class ModelSpec:
    """What to fit: formula, link and family, prior overrides, block assignments.

    Every value is checked when the specification is made (see the module's docstring):
    a :class:`~bayesresp.errors.SpecError` (or :class:`~bayesresp.errors.FormulaError`,
    :class:`~bayesresp.errors.PriorError`) says which key and value, and what was
    expected.

    Examples
    --------
    >>> spec = ModelSpec("response ~ severity + (1 | mission)", name="small")
    >>> spec.parsed.groups[0].label
    'mission'
    """

    formula: str
    link: str = "logit"
    priors: dict[str, str] = field(default_factory=dict)
    blocks: dict[str, str] = field(default_factory=dict)
    name: str = ""
    description: str = ""
    scale_continuous: bool = True
    coders: str = "auto"
    family: str = "cumulative"
    thresholds: str = "flexible"

    def __post_init__(self) -> None:
        _check_types(self.to_dict())
        if self.link not in LINKS:
            raise SpecError(
                f"link '{self.link}' is not one of {', '.join(LINKS)}"
                + _did_you_mean(self.link, tuple(LINKS))
            )
        if self.family not in FAMILIES:
            raise SpecError(
                f"family '{self.family}' is not one of {', '.join(FAMILIES)}"
                + _did_you_mean(self.family, tuple(FAMILIES))
            )
        if self.thresholds not in STRUCTURES:
            raise SpecError(
                f"thresholds '{self.thresholds}' is not one of {', '.join(STRUCTURES)}"
                + _did_you_mean(self.thresholds, tuple(STRUCTURES))
            )
        if self.coders not in CODERS:
            raise SpecError(
                f"coders '{self.coders}' is not one of {', '.join(CODERS)}"
                + _did_you_mean(self.coders, CODERS)
            )
        parsed = parse_formula(self.formula)  # fail early, with the formula's own message
        cs = [str(t) for t in parsed.terms if t.cs]
        if len(cs) > 1 and get_family(self.family, self.link).ordered:
            raise SpecError(
                f"{', '.join(cs)}: the {self.family} family keeps the thresholds of one "
                "cs() covariate ordered (at each of its levels, or at both ends of its "
                "range); several at once span combinations where they could cross (a "
                "negative probability). Keep one cs() term, or fit family = 'sratio', "
                "'cratio' or 'acat', whose thresholds need no order"
            )
        if cs and self.thresholds != "flexible" and get_family(self.family).ordered:
            raise SpecError(
                f"{cs[0]} with thresholds = '{self.thresholds}': in the {self.family} family "
                "a cs() covariate's levels each have thresholds of their own, kept ordered, "
                "which no equal spacing can hold at every level; fit thresholds = "
                "'flexible', or family = 'sratio', 'cratio' or 'acat'"
            )
        varying = [str(g) for g in parsed.groups if g.thresholds]
        if varying and self.thresholds != "flexible":
            raise SpecError(
                f"{varying[0]} with thresholds = '{self.thresholds}': each group's deviations "
                "move its thresholds apart from the equal spacing; fit thresholds = "
                "'flexible' (or drop the group's thresholds and keep (1 | group))"
            )
        if varying and cs and get_family(self.family).ordered:
            raise SpecError(
                f"{varying[0]} with {cs[0]}: in the {self.family} family a group's threshold "
                "deviations act on the ordered transform, which a cs() covariate's thresholds "
                "at its levels do not share; fit one of them, or family = 'sratio', 'cratio' "
                "or 'acat', where both add to the thresholds"
            )
        for key, text in self.priors.items():
            try:
                parse_prior(text, role_of_key(key), key)
            except PriorError as exc:
                if key not in _KEYS:
                    raise
                raise PriorError(f"{exc}{_misplaced('priors', key)}") from None
        if _CHECK_BLOCK_TERMS.get():
            self._check_block_terms(parsed)

    def _check_block_terms(self, parsed: Formula) -> None:
        """Every [blocks] key is a fixed term of the formula, written as the formula's
        terms are written out (``a*b`` gives ``a``, ``b`` and ``a:b``)."""
        terms = [str(t) for t in parsed.terms]
        for key, block in self.blocks.items():
            if key not in terms:
                listed = ", ".join(terms) if terms else "none"
                raise SpecError(
                    f"[blocks] key '{key}' is not a term of the formula"
                    + _did_you_mean(key, terms)
                    + f" (its terms: {listed})"
                    + (_misplaced("blocks", key) if key in _KEYS else "")
                )
            if not block.strip():
                raise SpecError(f"[blocks] '{key}' names no block (an empty text)")

    def with_response(
        self, family: str | None = None, link: str | None = None, thresholds: str | None = None
    ) -> ModelSpec:
        """The same specification with another family, link and/or threshold structure
        (None: keep its own), checked as a specification's keys are. Its ``[blocks]``
        keys are not checked again: they were when it was made (or kept as stored, for a
        saved fit's)."""
        values = {
            **self.to_dict(),
            "family": self.family if family is None else family,
            "link": self.link if link is None else link,
            "thresholds": self.thresholds if thresholds is None else thresholds,
        }
        token = _CHECK_BLOCK_TERMS.set(False)
        try:
            spec = ModelSpec(**values)
        finally:
            _CHECK_BLOCK_TERMS.reset(token)
        return spec._read_from(self.origin) if self.origin else spec

    @property
    def response(self) -> Family:
        """The ordinal family with its link and threshold structure
        (:mod:`bayesresp.maths.families`): what turns a linear predictor and thresholds
        into level probabilities."""
        return get_family(self.family, self.link, self.thresholds)

    @property
    def parsed(self) -> Formula:
        """The formula, parsed: its outcome, terms and group terms."""
        return parse_formula(self.formula)

    @property
    def origin(self) -> str:
        """Where the specification was read from (a file's path), for messages; not part
        of its value ("" when made in Python)."""
        return getattr(self, "_origin", "")

    def _read_from(self, origin: str) -> ModelSpec:
        object.__setattr__(self, "_origin", origin)  # frozen: set once, by the readers
        return self

    def check_blocks(self, codebook: Codebook) -> None:
        """Every block ``[blocks]`` assigns is one of ``codebook``'s (or
        ``interactions``); else a :class:`~bayesresp.errors.SpecError` naming the file,
        the term, the block and the closest block."""
        from bayesresp.model.design import check_blocks

        try:
            check_blocks(self.blocks, codebook)
        except SpecError as exc:
            where = self.origin or (f"'{self.name}'" if self.name else "")
            raise SpecError(f"specification {where}: {exc}" if where else str(exc)) from None

    # -- reading and writing -------------------------------------------------------------
    @classmethod
    def from_dict(
        cls, d: dict[str, Any], origin: str = "<dict>", *, stored: bool = False
    ) -> ModelSpec:
        """A specification from a dict (a TOML file's document, a fit file's record);
        errors name ``origin``.

        ``stored=True`` reads a specification a fit was made with, as it was: every check
        holds except that ``[blocks]`` keys matching no term of the formula are kept
        (before 0.2 they were ignored, so fits saved then may hold them; the fit's design
        records the blocks actually used).
        """
        where = f"specification {origin}"
        if not isinstance(d, dict):
            raise SpecError(f"{where} must be a table of keys, not {shown(d)}")
        unknown = [str(k) for k in d if k not in _KEYS]
        if unknown:
            named = ", ".join(f"'{k}'{_did_you_mean(k, _KEYS)}" for k in unknown)
            raise SpecError(
                f"{where}: unknown key{'s' * (len(unknown) > 1)} {named} "
                f"(known: {', '.join(_KEYS)})"
            )
        if "formula" not in d:
            raise SpecError(
                f"{where} has no 'formula'; write one, like formula = {_EXAMPLE['formula']}"
            )
        token = _CHECK_BLOCK_TERMS.set(not stored)
        try:
            _check_types(d)
            spec = cls(
                formula=" ".join(d["formula"].split()),
                link=d.get("link", "logit"),
                family=d.get("family", "cumulative"),
                thresholds=d.get("thresholds", "flexible"),
                priors=dict(d.get("priors", {})),
                blocks=dict(d.get("blocks", {})),
                name=d.get("name", ""),
                description=d.get("description", ""),
                scale_continuous=d.get("scale_continuous", True),
                coders=d.get("coders", "auto"),
            )
        except SpecError as exc:  # FormulaError, PriorError too: say which file
            raise type(exc)(f"{where}: {exc}") from None
        finally:
            _CHECK_BLOCK_TERMS.reset(token)
        return spec._read_from(origin) if origin != "<dict>" else spec

    @classmethod
    def from_toml(cls, text: str, origin: str = "<toml>") -> ModelSpec:
        """A specification from the text of a TOML file (what :meth:`to_toml` writes)."""
        try:
            d = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            message = " ".join(str(exc).split())
            raise SpecError(f"specification {origin} is not valid TOML: {message}") from None
        except RecursionError:
            raise SpecError(f"specification {origin} is nested too deeply") from None
        return cls.from_dict(d, origin=origin)

    @classmethod
    def from_file(cls, path: str | Path, overrides: dict[str, Any] | None = None) -> ModelSpec:
        """A specification from a TOML file; without a ``name``, the file's stem names it.
        ``overrides``: keys that replace the file's (``family``, ``link``,
        ``thresholds``) before it is checked."""
        path = Path(path)
        values = read_toml(path, "specification", SpecError)
        if overrides and isinstance(values, dict):
            values = {**values, **overrides}
        spec = cls.from_dict(values, origin=str(path))
        if not spec.name:
            spec = cls(**{**spec.to_dict(), "name": path.stem})
        return spec._read_from(str(path))

    @classmethod
    def coerce(
        cls,
        spec: ModelSpec | str | Path | dict,
        family: str | None = None,
        link: str | None = None,
        thresholds: str | None = None,
    ) -> ModelSpec:
        """Accept a spec object, a formula string, a dict, the path of a TOML file or the
        name of a shipped specification (``baseline``, ``hierarchical``, ``full``).

        ``family``, ``link``: in place of the specification's own, set before it is
        checked (a formula with several ``cs()`` terms is valid with ``family="sratio"``
        though not in the default cumulative family); ``thresholds`` likewise."""
        pairs = (("family", family), ("link", link), ("thresholds", thresholds))
        over = {k: v for k, v in pairs if v is not None}
        if isinstance(spec, ModelSpec):
            return spec.with_response(family, link, thresholds) if over else spec
        if isinstance(spec, dict):
            return cls.from_dict({**spec, **over})
        if isinstance(spec, Path) or (isinstance(spec, str) and "~" not in spec):
            path = Path(spec)
            if not path.exists() and path.suffix == "" and shipped_spec_path(str(spec)).is_file():
                path = shipped_spec_path(str(spec))  # "hierarchical" -> models/hierarchical.toml
            return cls.from_file(path, over)
        if isinstance(spec, str):
            return cls(formula=" ".join(spec.split()), **over)
        raise SpecError(
            f"a model specification must be a formula, a ModelSpec, a dict or a TOML path, "
            f"not {type(spec).__name__}"
        )

    def to_dict(self) -> dict[str, Any]:
        """The specification as plain values (what a fit file stores). ``thresholds`` is
        there only when not the default, flexible: a specification that does not use it
        keeps the values (and the hashes of stored comparisons and batches) it had before
        the key existed, and its fit files stay readable by earlier versions."""
        out = {
            "name": self.name,
            "description": self.description,
            "formula": self.formula,
            "link": self.link,
            "family": self.family,
            "thresholds": self.thresholds,
            "scale_continuous": self.scale_continuous,
            "coders": self.coders,
            "priors": dict(self.priors) if isinstance(self.priors, dict) else self.priors,
            "blocks": dict(self.blocks) if isinstance(self.blocks, dict) else self.blocks,
        }
        if self.thresholds == "flexible":
            del out["thresholds"]
        return out

    def to_json(self) -> str:
        """:meth:`to_dict` as JSON, keys sorted."""
        return json.dumps(self.to_dict(), sort_keys=True)

    def to_toml(self) -> str:
        """The specification as the text of a TOML file, which :meth:`from_toml` (and
        :meth:`from_file`) read back as the same specification.

        Examples
        --------
        >>> spec = ModelSpec("response ~ severity", priors={"b": "normal(0, 2)"})
        >>> ModelSpec.from_toml(spec.to_toml()) == spec
        True
        """
        lines = [f"{key} = {_toml_text(getattr(self, key))}" for key in _TEXT_KEYS]
        lines.append(f"scale_continuous = {'true' if self.scale_continuous else 'false'}")
        for key in _TABLE_KEYS:
            table = getattr(self, key)
            if table:
                lines += ["", f"[{key}]"]
                lines += [f"{_toml_text(k)} = {_toml_text(v)}" for k, v in table.items()]
        return "\n".join(lines) + "\n"


def _toml_text(text: str) -> str:
    """A TOML basic string: JSON's escapes are TOML's, but for DEL, which TOML escapes."""
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def shipped_spec_path(name: str) -> Path:
    """Path of a specification shipped in ``models/`` (``baseline``, ``hierarchical``, ``full``)."""
    from importlib import resources

    checkout = Path(__file__).resolve().parents[2] / "models" / f"{name}.toml"
    if checkout.is_file():
        return checkout
    return Path(str(resources.files("bayesresp") / "models" / f"{name}.toml"))
