"""Model formulas in the syntax of lme4, brms and bambi.

Supported::

    response ~ severity + background + years_at_station      main effects
             + mo(hierarchy_level)                             monotonic ordinal effect
             + duty_location:interlocutor                      interaction only
             + career_security * politicization                main effects and interaction
             + (1 | mission/department)                        nested: mission, mission:department
             + (1 | official_id)                               crossed intercepts
             + (1 + duty_location | mission)                   varying slopes, correlated (LKJ)
             + (1 + duty_location || mission)                  varying slopes, uncorrelated
             + cs(background)                                  category-specific effect
                                                               (one coefficient per threshold;
                                                               sratio, cratio, acat)
             + (cs(1) | mission)                               thresholds varying by mission
                                                               (partially pooled; || for
                                                               uncorrelated deviations)

The cumulative-logit model has no intercept (the cutpoints take its place), so ``1``,
``0`` and ``- 1`` among the fixed terms are accepted and change nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bayesresp.errors import FormulaError


@dataclass(frozen=True)
class Var:
    """A variable in a term; ``mo`` marks a monotonic effect of an ordinal variable,
    ``cs`` a category-specific effect (one coefficient per threshold)."""

    name: str
    mo: bool = False
    cs: bool = False

    def __str__(self) -> str:
        if self.cs:
            return f"cs({self.name})"
        return f"mo({self.name})" if self.mo else self.name


@dataclass(frozen=True)
class Term:
    """A product of variables: a main effect (one variable) or an interaction."""

    vars: tuple[Var, ...]

    def __str__(self) -> str:
        return ":".join(str(v) for v in self.vars)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(v.name for v in self.vars)

    @property
    def cs(self) -> bool:
        """A category-specific term (``cs(x)``)."""
        return any(v.cs for v in self.vars)


@dataclass(frozen=True)
class GroupTerm:
    """Group-level effects: ``(intercept + slopes | factor)``."""

    factor: tuple[str, ...]
    intercept: bool = True
    slopes: tuple[Term, ...] = ()
    correlated: bool = True
    # (cs(1) | mission): each level's own deviations of the K - 1 thresholds (no intercept,
    # no slopes: the deviations take the intercept's place)
    thresholds: bool = False

    @property
    def label(self) -> str:
        """``mission`` or ``mission:department``."""
        return ":".join(self.factor)

    def __str__(self) -> str:
        if self.thresholds:
            return f"(cs(1) {'|' if self.correlated else '||'} {self.label})"
        parts = (["1"] if self.intercept else ["0"]) + [str(s) for s in self.slopes]
        bar = "|" if self.correlated else "||"
        return f"({' + '.join(parts)} {bar} {self.label})"


@dataclass(frozen=True)
class Formula:
    """A parsed formula."""

    outcome: str
    terms: tuple[Term, ...] = ()
    groups: tuple[GroupTerm, ...] = field(default=())
    text: str = ""

    def __str__(self) -> str:
        rhs = [str(t) for t in self.terms] + [str(g) for g in self.groups]
        return f"{self.outcome} ~ {' + '.join(rhs) if rhs else '1'}"

    @property
    def variables(self) -> list[str]:
        """Every data column the formula uses, outcome first, without repeats."""
        names = [self.outcome]
        for t in self.terms:
            names += t.names
        for g in self.groups:
            names += list(g.factor)
            for s in g.slopes:
                names += s.names
        return list(dict.fromkeys(names))


_TOKEN = re.compile(r"\s*(?:(\|\|)|([A-Za-z_][A-Za-z0-9_.]*)|(\d+)|([~+\-:*/|()]))")


def _tokens(text: str) -> list[str]:
    out, pos = [], 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise FormulaError(
                f"cannot read the formula at character {pos + 1}: "
                f"'{text[pos : pos + 10]}' in '{text}'"
            )
        out.append(next(g for g in m.groups() if g is not None))
        pos = m.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return out


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.toks = _tokens(text)
        self.i = 0

    def peek(self) -> str | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self, expected: str | None = None) -> str:
        tok = self.peek()
        if tok is None or (expected is not None and tok != expected):
            got = "the end" if tok is None else f"'{tok}'"
            want = f"'{expected}'" if expected else "more"
            raise FormulaError(f"in formula '{self.text}': expected {want} but found {got}")
        self.i += 1
        return tok

    def name(self) -> str:
        tok = self.take()
        if not re.match(r"[A-Za-z_]", tok):
            raise FormulaError(f"in formula '{self.text}': expected a column name, not '{tok}'")
        return tok

    def parse(self) -> Formula:
        if "~" not in self.toks:
            raise FormulaError(
                f"formula '{self.text}' has no '~'; write it as 'response ~ term + term'"
            )
        outcome = self.name()
        self.take("~")
        terms: list[Term] = []
        groups: list[GroupTerm] = []
        sign = "+"
        while True:
            if self.peek() == "(" and self._group_ahead():
                if sign == "-":
                    raise FormulaError(f"in formula '{self.text}': cannot subtract a group term")
                groups += self.group()
            elif self.peek() in ("0", "1"):
                self.take()
            else:
                product = self.product()
                if sign == "-":
                    raise FormulaError(
                        f"in formula '{self.text}': removing terms with '-' is not "
                        "supported (only '- 1')"
                    )
                terms += product
            tok = self.peek()
            if tok is None:
                break
            if tok not in ("+", "-"):
                raise FormulaError(f"in formula '{self.text}': unexpected '{tok}'")
            sign = self.take()
        labels = [g.label for g in groups]
        repeated = sorted({lab for lab in labels if labels.count(lab) > 1})
        if repeated:
            both = [lab for lab in repeated if any(g.thresholds and g.label == lab for g in groups)]
            raise FormulaError(
                f"in formula '{self.text}': the group {', '.join(repeated)} appears in more "
                "than one group term; "
                + (
                    f"(cs(1) | {both[0]}) already gives each {both[0]} thresholds of its "
                    f"own, so (1 | {both[0]}) beside it would not be identified, and "
                    "varying slopes by a group whose thresholds vary are not supported"
                    if both
                    else "give each grouping one term (put its slopes together)"
                )
            )
        return Formula(outcome, tuple(dict.fromkeys(terms)), tuple(groups), self.text)

    def _group_ahead(self) -> bool:
        depth = 0
        for tok in self.toks[self.i :]:
            depth += tok == "("
            depth -= tok == ")"
            if depth == 1 and tok in ("|", "||"):
                return True
            if depth == 0:
                return False
        return False

    def product(self) -> list[Term]:
        """``a``, ``a:b`` or ``a*b`` (expanded to a + b + a:b)."""
        factors = [[self.atom()]]
        while self.peek() in (":", "*"):
            op = self.take()
            nxt = self.atom()
            if op == ":":
                factors[-1].append(nxt)
            else:
                factors.append([nxt])
        if len(factors) == 1:
            return [Term(tuple(factors[0]))]
        # a*b*c: every non-empty sub-product of the starred factors.
        out: list[Term] = []
        for mask in range(1, 2 ** len(factors)):
            chosen = [v for j, f in enumerate(factors) if mask >> j & 1 for v in f]
            out.append(Term(tuple(chosen)))
        return sorted(out, key=lambda t: len(t.vars))

    def atom(self) -> Var:
        tok = self.name()
        if tok == "mo" and self.peek() == "(":
            self.take("(")
            inner = self.name()
            self.take(")")
            return Var(inner, mo=True)
        if tok == "cs" and self.peek() == "(":
            self.take("(")
            if self.peek() in ("0", "1"):
                raise FormulaError(
                    f"in formula '{self.text}': cs({self.peek()}) is not a term here; "
                    "thresholds varying by group are written (cs(1) | mission), alone in "
                    "their group term, and a category-specific covariate cs(background)"
                )
            inner = self.name()
            if self.peek() != ")":
                raise FormulaError(
                    f"in formula '{self.text}': cs() takes one covariate, like "
                    "cs(background); cs() of an interaction is not supported"
                )
            self.take(")")
            return Var(inner, cs=True)
        return Var(tok)

    def group(self) -> list[GroupTerm]:
        self.take("(")
        intercept, slopes = True, []
        first, thresholds, explicit = True, False, False
        while self.peek() not in ("|", "||"):
            if not first:
                self.take("+")
            first = False
            if self.toks[self.i : self.i + 4] == ["cs", "(", "1", ")"]:
                self.i += 4
                thresholds = True
                continue
            if self.peek() in ("0", "1"):
                intercept = self.take() == "1"
                explicit = explicit or intercept  # a "1" anywhere in the term
                continue
            if self.peek() == "-":
                self.take("-")
                self.take("1")
                intercept = False
                continue
            slopes += self.product()
        correlated = self.take() == "|"
        chain = [self.name()]
        nested = []
        while self.peek() in ("/", ":"):
            op = self.take()
            nxt = self.name()
            if op == "/":
                nested.append(tuple(chain))
            chain.append(nxt)
        self.take(")")
        if any(v.mo for s in slopes for v in s.vars):
            raise FormulaError(f"in formula '{self.text}': mo() is not supported in group terms")
        if any(v.cs for s in slopes for v in s.vars):
            raise FormulaError(
                f"in formula '{self.text}': cs() of a covariate is not supported in group "
                "terms; thresholds varying by group are written (cs(1) | mission)"
            )
        factors = [*nested, tuple(chain)]
        if thresholds:
            label = ":".join(chain)
            if slopes or explicit:
                raise FormulaError(
                    f"in formula '{self.text}': (cs(1) | {label}) stands alone: its "
                    f"deviations of every threshold already shift each {label} (an "
                    "intercept beside them would not be identified), and varying slopes "
                    "by a group whose thresholds vary are not supported"
                )
            return [GroupTerm(f, False, (), correlated, thresholds=True) for f in factors]
        return [GroupTerm(f, intercept, tuple(slopes), correlated) for f in factors]


def parse_formula(text: str) -> Formula:
    """Parse a formula string.

    Examples
    --------
    >>> f = parse_formula("response ~ severity + mo(hierarchy_level) + (1 | mission/department)")
    >>> [str(t) for t in f.terms]
    ['severity', 'mo(hierarchy_level)']
    >>> [g.label for g in f.groups]
    ['mission', 'mission:department']
    """
    if not isinstance(text, str) or not text.strip():
        raise FormulaError("the formula is empty; write it as 'response ~ term + term'")
    return _Parser(text).parse()
