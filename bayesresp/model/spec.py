"""Model specifications: a formula plus link, prior overrides and block assignments.

A specification file is TOML::

    name = "hierarchical"
    description = "All default covariates; mission and department-in-mission intercepts."
    formula = '''
      response ~ violation_type + severity + background + ...
               + (1 | mission/department)
    '''
    link = "logit"                  # or "probit", "cloglog", "cauchit"
    scale_continuous = true         # centre and scale continuous covariates

    [priors]                        # optional overrides, see bayesresp.model.priors
    b = "normal(0, 1.5)"
    "sd(mission)" = "halfnormal(0.5)"

    [blocks]                        # optional: block of a term, for the variance decomposition
    "duty_location:interlocutor" = "positional"
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bayesresp.errors import SpecError
from bayesresp.maths.links import LINKS
from bayesresp.model.formula import Formula, parse_formula
from bayesresp.model.priors import parse_prior, role_of_key

_KEYS = {"name", "description", "formula", "link", "priors", "blocks", "scale_continuous"}


@dataclass(frozen=True)
class ModelSpec:
    """What to fit: formula, link, prior overrides, block assignments.

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

    def __post_init__(self) -> None:
        if self.link not in LINKS:
            raise SpecError(f"link '{self.link}' is not one of {', '.join(LINKS)}")
        for key, text in self.priors.items():
            parse_prior(text, role_of_key(key), key)
        parse_formula(self.formula)  # fail early, with the formula's own message

    @property
    def parsed(self) -> Formula:
        return parse_formula(self.formula)

    # -- reading and writing -------------------------------------------------------------
    @classmethod
    def from_dict(cls, d: dict[str, Any], origin: str = "<dict>") -> ModelSpec:
        unknown = set(d) - _KEYS
        if unknown:
            raise SpecError(
                f"specification {origin}: unknown key(s) {', '.join(sorted(unknown))} "
                f"(known: {', '.join(sorted(_KEYS))})"
            )
        if "formula" not in d:
            raise SpecError(f"specification {origin} has no 'formula'")
        for key in ("priors", "blocks"):
            if not isinstance(d.get(key, {}), dict):
                raise SpecError(f"specification {origin}: '{key}' must be a table")
        return cls(
            formula=" ".join(str(d["formula"]).split()),
            link=d.get("link", "logit"),
            priors={str(k): str(v) for k, v in d.get("priors", {}).items()},
            blocks={str(k): str(v) for k, v in d.get("blocks", {}).items()},
            name=d.get("name", ""),
            description=d.get("description", ""),
            scale_continuous=bool(d.get("scale_continuous", True)),
        )

    @classmethod
    def from_file(cls, path: str | Path) -> ModelSpec:
        path = Path(path)
        try:
            d = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise SpecError(f"specification file not found: {path}") from None
        except tomllib.TOMLDecodeError as exc:
            raise SpecError(f"specification {path} is not valid TOML: {exc}") from None
        spec = cls.from_dict(d, origin=str(path))
        return spec if spec.name else cls(**{**spec.to_dict(), "name": path.stem})

    @classmethod
    def coerce(cls, spec: ModelSpec | str | Path | dict) -> ModelSpec:
        """Accept a spec object, a formula string, a dict, the path of a TOML file or the
        name of a shipped specification (``baseline``, ``hierarchical``, ``full``)."""
        if isinstance(spec, ModelSpec):
            return spec
        if isinstance(spec, dict):
            return cls.from_dict(spec)
        if isinstance(spec, Path) or (isinstance(spec, str) and "~" not in spec):
            path = Path(spec)
            if not path.exists() and path.suffix == "" and shipped_spec_path(str(spec)).is_file():
                path = shipped_spec_path(str(spec))  # "hierarchical" -> models/hierarchical.toml
            return cls.from_file(path)
        if isinstance(spec, str):
            return cls(formula=" ".join(spec.split()))
        raise SpecError(
            f"a model specification must be a formula, a ModelSpec, a dict or a TOML path, "
            f"not {type(spec).__name__}"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "formula": self.formula,
            "link": self.link,
            "scale_continuous": self.scale_continuous,
            "priors": dict(self.priors),
            "blocks": dict(self.blocks),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)


def shipped_spec_path(name: str) -> Path:
    """Path of a specification shipped in ``models/`` (``baseline``, ``hierarchical``, ``full``)."""
    from importlib import resources

    checkout = Path(__file__).resolve().parents[2] / "models" / f"{name}.toml"
    if checkout.is_file():
        return checkout
    return Path(str(resources.files("bayesresp") / "models" / f"{name}.toml"))
