"""From data and a formula to model arrays, the same way for fitting and for what-if.

:func:`make_design` learns a :class:`DesignInfo` from the fitting data (reference
levels, which dummy columns exist, centring and scaling, group levels) and returns the
arrays; :func:`apply_design` rebuilds arrays for new rows (hypothetical profiles,
scenario data) with that same recipe, so predictions use exactly the model's coding.

Coding rules:

* nominal and ordinal covariates: treatment contrasts against the reference level, the
  first codebook level present in the fitting data; a column for every other level
  present;
* ``mo(x)``: the level's 0-based code, for a monotonic effect;
* continuous covariates: centred at the fitting mean and divided by the fitting standard
  deviation (unless the specification says ``scale_continuous = false``);
* interactions: products of their variables' columns, keeping the columns that are not
  all zero in the fitting data;
* group terms: an index of each row's group (``-1`` for a group the fit has not seen),
  and a group-level design (intercept and slope columns).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from itertools import product
from typing import Any

import numpy as np
import pandas as pd

from bayesresp.data.codebook import Codebook
from bayesresp.data.tomlfile import closest
from bayesresp.errors import BayesrespError, ProfileError, SpecError
from bayesresp.maths.thresholds import Simplex
from bayesresp.model.formula import Formula, FormulaError, GroupTerm, Term


@dataclass(frozen=True)
class Coding:
    """How one variable enters the design."""

    name: str
    kind: str  # "factor" | "continuous" | "monotonic"
    levels: tuple[str, ...] = ()  # all codebook levels (factor, monotonic)
    reference: str | None = None
    observed: tuple[str, ...] = ()  # levels present in the fitting data
    center: float = 0.0
    scale: float = 1.0
    unit: str = ""


@dataclass(frozen=True)
class Column:
    """One fixed-effect column: a level of a factor, a continuous variable or a product."""

    name: str  # 'background[military_security]', 'years_at_station', 'a[x]:b[y]'
    term: str  # 'background', 'duty_location:interlocutor'
    block: str
    parts: tuple[tuple[str, str | None], ...]  # (variable, level or None if continuous)


@dataclass(frozen=True)
class Monotonic:
    var: str
    levels: tuple[str, ...]
    block: str

    @property
    def name(self) -> str:
        return f"mo({self.var})"


@dataclass(frozen=True)
class Group:
    """One grouping term with its levels and group-level design columns."""

    label: str  # 'mission', 'mission:department'
    factor: tuple[str, ...]
    levels: tuple[str, ...]
    columns: tuple[Column, ...]  # first the intercept (parts == ()), then slopes
    correlated: bool = True
    # (cs(1) | mission): the columns are the K - 1 thresholds (named as the cutpoints,
    # term "cs(1)", values 1); each level's effects move its thresholds, not eta
    # (bayesresp.maths.thresholds.vary_thresholds)
    thresholds: bool = False
    # ... on the ordered transform (first threshold, log gaps): the cumulative family's
    ordered: bool = False

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


@dataclass(frozen=True)
class Imputed:
    """A covariate with levels whose missing cells the model sums out
    (:mod:`bayesresp.maths.missing`; ``missing="model"``)."""

    var: str
    # The levels a missing cell may take: those the fitting data hold, in the codebook's
    # order; the first is the reference of the covariate's own model.
    levels: tuple[str, ...]
    # What predicts it: the main-effect design columns (names in DesignInfo.columns) of
    # the covariates no row lacks, and their mo() terms as "mo(x)", each the level's code
    # over the number of steps (0 to 1).
    predictors: tuple[str, ...]
    # The group term whose levels carry its partially pooled effects (None: no group).
    group: str | None = None

    @property
    def free_levels(self) -> tuple[str, ...]:
        """The levels with parameters of their own (all but the reference)."""
        return self.levels[1:]


@dataclass(frozen=True)
class Latent:
    """A number whose missing cells are latent values of the model
    (:mod:`bayesresp.maths.missing`; ``missing="model"``): each missing cell is a parameter
    with the number's own model as its prior, a normal regression within mission,

    ``v_i ~ Normal(a + z_i' g + u_{m(i)}, sigma)``, ``v = (x - center) / scale``,

    on the number's own standard scale (``center``, ``scale``: its observed values' mean and
    sd), whatever the design's scaling. Every design column is linear in the number, so a
    row's design is its columns at ``v = 0`` plus ``v`` times their change per unit of
    ``v`` (:class:`LatentColumns`)."""

    var: str
    predictors: tuple[str, ...]  # as Imputed.predictors
    group: str | None
    center: float
    scale: float
    # The fitted data's cells: the positions (0-based, in the fitted rows) of the rows that
    # lack the number, and each one's cell (the codes of one response share a cell).
    rows: tuple[int, ...] = ()
    cells: tuple[int, ...] = ()

    @property
    def n_cells(self) -> int:
        return max(self.cells) + 1 if self.cells else 0

    def first_rows(self) -> list[int]:
        """Each cell's first row among the fitted rows (0-based), in cell order: the row
        that names it (the first code of a response under the coders' layer)."""
        first = dict(zip(reversed(self.cells), reversed(self.rows), strict=True))
        return [first[c] for c in range(self.n_cells)]


@dataclass(frozen=True)
class DesignInfo:
    """The recipe learnt from the fitting data (JSON-serialisable)."""

    outcome: str
    spectrum: tuple[str, ...]
    codings: dict[str, Coding]
    columns: tuple[Column, ...]
    monotonic: tuple[Monotonic, ...]
    groups: tuple[Group, ...]
    variables: tuple[str, ...] = field(default=())
    # Interaction cells absent from the fitting data (their columns were dropped): the
    # model knows nothing about them, so predictions for them are refused.
    empty_cells: tuple[Column, ...] = field(default=())
    # The outcome's range columns (lowest, highest level of an ambiguous code), when the
    # codebook declares them: a row whose outcome is missing is read from them.
    outcome_range: tuple[str, str] | None = None
    # The coders, when the model has the coders' layer (bayesresp.maths.rater): the
    # response and coder columns, and the coders the fitting data hold, in order.
    coder_columns: tuple[str, str] | None = None
    coders: tuple[str, ...] = field(default=())
    # Covariates whose missing cells the model sums out (missing="model"), in order.
    imputed: tuple[Imputed, ...] = field(default=())
    # Category-specific columns (cs() terms): each has one coefficient per threshold,
    # which it moves on its own (Design.X_cs holds their values).
    cs_columns: tuple[Column, ...] = field(default=())
    # In a family whose thresholds must stay ordered (the cumulative one): each cs()
    # column's smallest and largest design value in the fitting data, the corners of the
    # region where its thresholds are kept ordered (cs_simplex); rows outside it are
    # refused. Empty otherwise.
    cs_bounds: tuple[tuple[float, float], ...] = field(default=())
    # Numbers whose missing cells are latent values of the model (missing="model").
    latent: tuple[Latent, ...] = field(default=())

    @property
    def modelled_missing(self) -> tuple[str, ...]:
        """The covariates whose missing cells the model handles (missing="model"): those
        with levels summed out, then the numbers with latent values."""
        return tuple(m.var for m in self.imputed) + tuple(m.var for m in self.latent)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def eta_groups(self) -> tuple[Group, ...]:
        """The group terms whose effects enter the linear predictor (all but the
        thresholds varying by group, ``(cs(1) | mission)``)."""
        return tuple(g for g in self.groups if not g.thresholds)

    @property
    def threshold_groups(self) -> tuple[Group, ...]:
        """The group terms whose effects move the thresholds (``(cs(1) | mission)``)."""
        return tuple(g for g in self.groups if g.thresholds)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DesignInfo:
        def col(c):
            return Column(c["name"], c["term"], c["block"], tuple((p[0], p[1]) for p in c["parts"]))

        return cls(
            outcome=d["outcome"],
            spectrum=tuple(d["spectrum"]),
            codings={
                k: Coding(
                    **{**v, "levels": tuple(v["levels"]), "observed": tuple(v.get("observed", ()))}
                )
                for k, v in d["codings"].items()
            },
            columns=tuple(col(c) for c in d["columns"]),
            monotonic=tuple(
                Monotonic(m["var"], tuple(m["levels"]), m["block"]) for m in d["monotonic"]
            ),
            groups=tuple(
                Group(
                    g["label"],
                    tuple(g["factor"]),
                    tuple(g["levels"]),
                    tuple(col(c) for c in g["columns"]),
                    g["correlated"],
                    bool(g.get("thresholds", False)),
                    bool(g.get("ordered", False)),
                )
                for g in d["groups"]
            ),
            variables=tuple(d.get("variables", ())),
            empty_cells=tuple(col(c) for c in d.get("empty_cells", ())),
            outcome_range=tuple(d["outcome_range"]) if d.get("outcome_range") else None,
            coder_columns=tuple(d["coder_columns"]) if d.get("coder_columns") else None,
            coders=tuple(d.get("coders", ())),
            imputed=tuple(
                Imputed(m["var"], tuple(m["levels"]), tuple(m["predictors"]), m["group"])
                for m in d.get("imputed", ())
            ),
            cs_columns=tuple(col(c) for c in d.get("cs_columns", ())),
            cs_bounds=tuple((float(a), float(b)) for a, b in d.get("cs_bounds", ())),
            latent=tuple(
                Latent(
                    m["var"],
                    tuple(m["predictors"]),
                    m["group"],
                    float(m["center"]),
                    float(m["scale"]),
                    tuple(int(r) for r in m["rows"]),
                    tuple(int(c) for c in m["cells"]),
                )
                for m in d.get("latent", ())
            ),
        )


@dataclass(frozen=True)
class Coders:
    """The coders' layer of a design (:mod:`bayesresp.maths.rater`): each row is one
    coder's code of a response; the rows of a response share its true level.

    Rows are the data's: for a design of copies (:class:`Imputation`) they are the rows
    the copies come from (``Design.of_rows``), not the design's rows."""

    coder: np.ndarray  # (n,) each row's coder, an index into DesignInfo.coders
    response: np.ndarray  # (n,) each row's response, an index into ``first``
    first: np.ndarray  # (n_responses,) the row that carries each response's covariates
    labels: tuple[str, ...]  # (n_responses,) the responses' identifiers

    @property
    def n_responses(self) -> int:
        return len(self.first)

    @property
    def codes_per_response(self) -> np.ndarray:
        return np.bincount(self.response, minlength=self.n_responses)


def make_coders(data: pd.DataFrame, columns: tuple[str, str], names: tuple[str, ...]) -> Coders:
    """The coders' layer of ``data`` (rows: codes; ``columns``: the response and coder
    columns; ``names``: the coders, in order). A row without a response identifier is a
    response of its own; a row whose coder is not among ``names`` is an error."""
    response_col, coder_col = columns
    ids = data[response_col].astype(object)
    blank = ids.isna().to_numpy()
    keys = np.where(blank, [f"row {i + 1}" for i in range(len(data))], ids.astype(str))
    response, labels = pd.factorize(pd.Series(keys), sort=False)
    first = np.full(len(labels), -1)
    for i in range(len(response) - 1, -1, -1):
        first[response[i]] = i
    index = {name: j for j, name in enumerate(names)}
    coder = np.array([index.get(str(v), -1) for v in data[coder_col].astype(object)])
    if np.any(coder < 0):
        from bayesresp.errors import BayesrespError

        bad = int(np.flatnonzero(coder < 0)[0])
        raise BayesrespError(
            f"row {bad + 1}: {coder_col} {data[coder_col].iloc[bad]!r} is not one of the "
            f"fit's coders ({', '.join(names)})"
        )
    return Coders(coder, response.astype(np.int64), first, tuple(map(str, labels)))


@dataclass(frozen=True)
class Imputation:
    """The copies of a design whose rows lack covariates the model sums out
    (:mod:`bayesresp.maths.missing`): the design's rows are copies, one per level (or
    combination of levels) a row's missing cells may take, and one for a complete row.
    Every array of the :class:`Design` is per copy; these map copies to rows."""

    row: np.ndarray  # (n_copies,) each copy's row in the data
    levels: np.ndarray  # (n_copies, V) each copy's level of each imputed covariate
    missing: np.ndarray  # (n_rows, V) bool: which cells the data lack
    slots: np.ndarray  # (n_rows, C) each row's copies, padded to the widest row
    mask: np.ndarray  # (n_rows, C) bool: which slots are copies

    @property
    def n_rows(self) -> int:
        return self.missing.shape[0]

    @property
    def first(self) -> np.ndarray:
        """(n_rows,) each row's first copy (all copies share the row's other values)."""
        return self.slots[:, 0]

    @property
    def copies(self) -> np.ndarray:
        """(n_rows,) how many copies each row has."""
        return self.mask.sum(axis=1)


@dataclass(frozen=True)
class LatentColumns:
    """One latent number's arrays (:class:`Latent`) over a design's rows."""

    missing: np.ndarray  # (n,) bool: the row's value of the number is latent
    # (n,) the fitted model's cell of that value (an index into its latent values), -1
    # where the value is observed or is not one of the fitted rows' (a fresh value, drawn
    # from the number's model given the row's predictors and group)
    cell: np.ndarray
    value: np.ndarray  # (n,) the observed value on the number's own scale (NaN where latent)
    # (n, p) each common column's change per unit of the value on the number's own scale
    # (zero where the value is observed: the column holds it); ``dZ`` the same for each
    # group term's columns
    dX: np.ndarray
    dZ: dict[str, np.ndarray]
    source: np.ndarray  # (n,) each design row's data row (a row's copies share its value)
    # (n,) bool: the design rows whose observed value (or latent cell) the number's model
    # counts: one per data row, or under the coders' layer one per response
    counted: np.ndarray

    def take(self, idx: np.ndarray) -> LatentColumns:
        return LatentColumns(
            self.missing[idx],
            self.cell[idx],
            self.value[idx],
            self.dX[idx],
            {k: v[idx] for k, v in self.dZ.items()},
            self.source[idx],
            self.counted[idx],
        )

    def cell_rows(self) -> np.ndarray:
        """(n_cells,) the design row that carries each fitted cell's predictors and group
        (the first row of the cell)."""
        cells = self.cell[self.counted & self.missing]
        rows = np.flatnonzero(self.counted & self.missing)
        order = np.argsort(cells, kind="stable")
        if not np.array_equal(cells[order], np.arange(len(cells))):
            raise ValueError("a design's latent cells must be its own (apply_design(own=True))")
        return rows[order]


@dataclass
class Design:
    """Model arrays for a set of rows."""

    info: DesignInfo
    X: np.ndarray  # (n, p) fixed-effect columns
    mono: np.ndarray  # (n, m) 0-based level codes of monotonic variables
    group_index: dict[str, np.ndarray]  # label -> (n,) index into group levels, -1 unseen
    group_Z: dict[str, np.ndarray]  # label -> (n, q) intercept and slope columns
    y: np.ndarray | None = None  # (n,) 0-based outcome codes (a range's lowest level)
    weights: np.ndarray | None = None  # (n,) how many identical rows each row stands for
    # (n,) each row's highest level, where some rows are ranges (ambiguous codes, whose
    # likelihood is P(y <= Y <= y_high)); None when every row is exact
    y_high: np.ndarray | None = None
    # The coders' layer: each row is one coder's code of a response (None: each row is a
    # response of its own)
    coders: Coders | None = None
    # The data arrays of the prior and of the average case (X_mean, mono_share[...],
    # r2d2_*) taken from other rows, in place of these rows' own: a refit on part of the
    # data keeps the full data's, so that it is the same model conditioned on fewer rows
    # (bayesresp.model.graph.prior_values). None: these rows'.
    prior_values: dict[str, np.ndarray] | None = None
    # Rows that lack covariates the model sums out are expanded into copies (None: each
    # design row is a data row). Set whenever the recipe has imputed covariates.
    imputation: Imputation | None = None
    # (n, p_cs) the category-specific columns (DesignInfo.cs_columns); None without any
    X_cs: np.ndarray | None = None
    # Numbers with latent missing cells (DesignInfo.latent), in order: X holds them at the
    # value 0 of their own scale where latent, and these arrays the change per unit
    latent: tuple[LatentColumns, ...] = ()

    @property
    def n(self) -> int:
        return self.X.shape[0]

    def take(self, idx: np.ndarray) -> Design:
        """A plain design of the design rows ``idx`` (their covariates, groups and
        outcome, each row weighted one; no coders' layer, no copies)."""
        return Design(
            self.info,
            self.X[idx],
            self.mono[idx],
            {k: v[idx] for k, v in self.group_index.items()},
            {k: v[idx] for k, v in self.group_Z.items()},
            None if self.y is None else self.y[idx],
            np.ones(len(idx)),
            X_cs=None if self.X_cs is None else self.X_cs[idx],
            latent=tuple(lat.take(idx) for lat in self.latent),
        )

    def of_rows(self, values: np.ndarray | None) -> np.ndarray | None:
        """A per-design-row array's values for the data's rows: itself, or for a design
        of copies (:class:`Imputation`) each row's first copy (its outcome, groups and
        observed covariates are all its copies')."""
        if values is None or self.imputation is None:
            return values
        return np.asarray(values)[self.imputation.first]

    @property
    def ranges(self) -> np.ndarray:
        """(n,) bool: which rows are ranges (lowest level below highest)."""
        if self.y_high is None:
            return np.zeros(self.n, dtype=bool)
        return np.asarray(self.y_high) > np.asarray(self.y)


# -- learning the recipe ----------------------------------------------------------------
def known_blocks(cb: Codebook) -> list[str]:
    """The blocks a term can be assigned to: the codebook's covariates' blocks
    (``covariates`` for those without one) and ``interactions``."""
    found = [f.block or "covariates" for f in cb.covariates]
    return list(dict.fromkeys([*found, "interactions"]))


def check_blocks(blocks: dict[str, str], cb: Codebook) -> None:
    """Every block a specification assigns is one of the codebook's (or ``interactions``)."""
    known = known_blocks(cb)
    for term, block in blocks.items():
        if block not in known:
            hint = closest(block, known)
            raise SpecError(
                f"[blocks] '{term}' = '{block}' is not a block of the codebook"
                + (f"; did you mean '{hint}'?" if hint else "")
                + f" (blocks: {', '.join(known)})"
            )


def _block_of(cb: Codebook, names: tuple[str, ...], overrides: dict[str, str], term: str) -> str:
    if term in overrides:
        return overrides[term]
    blocks = {
        (cb.fields[n].block if n in cb.fields and cb.fields[n].block else "covariates")
        for n in names
    }
    return blocks.pop() if len(blocks) == 1 else "interactions"


def _factor_values(data: pd.DataFrame, name: str) -> pd.Series:
    s = data[name]
    return s.astype(object).where(s.notna(), None)


def _coding(data: pd.DataFrame, name: str, cb: Codebook, mo: bool, scale: bool) -> Coding:
    f = cb.fields.get(name)
    if f is None:
        raise FormulaError(f"the formula uses '{name}', which the codebook does not define")
    if f.role == "outcome":
        raise FormulaError(f"'{name}' is the outcome; it cannot also be a predictor")
    if mo:
        if f.kind != "ordinal":
            raise FormulaError(
                f"mo({name}) needs an ordinal variable, but '{name}' is {f.kind}; "
                "use it without mo()"
            )
        present = set(_factor_values(data, name).dropna())
        observed = tuple(lv for lv in f.categories if lv in present)
        return Coding(name, "monotonic", tuple(f.categories), observed=observed)
    if f.categories is not None:
        present = set(_factor_values(data, name).dropna())
        levels = tuple(f.categories)
        reference = next((lv for lv in levels if lv in present), None)
        if reference is None:
            raise FormulaError(f"'{name}' has no values in the data")
        observed = tuple(lv for lv in levels if lv in present)
        return Coding(name, "factor", levels, reference, observed=observed)
    if f.kind in ("continuous", "integer"):
        x = pd.to_numeric(data[name], errors="raise").astype(float)
        if not scale:
            return Coding(name, "continuous", unit=f.unit)
        sd = float(x.std(ddof=0))
        if not np.isfinite(sd) or sd == 0:
            raise FormulaError(f"'{name}' is constant in the data; it cannot be a predictor")
        return Coding(name, "continuous", center=float(x.mean()), scale=sd, unit=f.unit)
    raise FormulaError(
        f"'{name}' is a {f.role} column of kind {f.kind}; only covariates with levels or "
        "numbers can be predictors"
    )


def _term_columns(
    term: Term,
    codings: dict[str, Coding],
    block: str,
    data: pd.DataFrame,
    others: set[frozenset[str]] | None = None,
) -> list[Column]:
    """Columns of a term, by the marginality rule of R's model matrices (lme4, brms).

    A factor in an interaction is coded by contrasts (reference level dropped) when the
    term without it is also in the model, and by indicators of all its levels when it is
    not: ``a:b`` alone codes every cell but the all-reference one; ``a + a:b`` codes
    ``b``'s contrasts within every level of ``a`` (``b`` nested in ``a``); ``a*b`` codes
    contrasts times contrasts. Main effects always use contrasts (the cutpoints play the
    intercept's part).
    """
    others = others or set()
    names = [v.name for v in term.vars]
    full = {
        n: len(names) > 1 and frozenset(m for m in names if m != n) not in others for n in names
    }
    factors = [n for n in names if codings[n].kind == "factor"]
    if factors and len(names) > 1 and all(full[n] for n in factors):
        full = dict.fromkeys(names, True)  # a:b alone: all cells but the reference cell
        drop_reference_cell = True
    else:
        drop_reference_cell = False
    choices = []
    for n in names:
        c = codings[n]
        if c.kind == "factor":
            present = set(_factor_values(data, n).dropna())
            levels = [lv for lv in c.levels if lv in present]
            choices.append([(n, lv) for lv in levels if full[n] or lv != c.reference])
        else:
            choices.append([(n, None)])
    out = []
    for parts in product(*choices):
        if drop_reference_cell and all(lv is None or lv == codings[n].reference for n, lv in parts):
            continue
        name = ":".join(n if lv is None else f"{n}[{lv}]" for n, lv in parts)
        out.append(Column(name, str(term), block, tuple(parts)))
    return out


def make_design(
    data: pd.DataFrame,
    formula: Formula,
    codebook: Codebook,
    *,
    blocks: dict[str, str] | None = None,
    scale_continuous: bool = True,
    impute: bool = False,
    ordered_family: bool = False,
) -> Design:
    """Learn the design recipe from the (complete, validated) fitting data and build arrays.

    ``blocks`` assigns terms to blocks of the variance decomposition (a specification's
    ``[blocks]``): each must name a block of the codebook (or ``interactions``), else a
    :class:`~bayesresp.errors.SpecError` names the closest.

    ``impute=True`` (``missing="model"``): the data may lack covariates with levels; each
    such covariate gets a model of its own (:class:`Imputed`) and the rows that lack it
    are expanded into copies (:class:`Imputation`). Other missing values are the
    caller's to refuse.

    ``ordered_family=True`` (a family whose thresholds must stay ordered): the recipe keeps
    the range of the cs() columns (``DesignInfo.cs_bounds``), inside which the model
    keeps each row's thresholds ordered (:func:`cs_simplex`); rows outside it are refused
    when the recipe is applied to new data. Thresholds varying by group then act on the
    ordered transform (``Group.ordered``).
    """
    blocks = blocks or {}
    check_blocks(blocks, codebook)
    codings: dict[str, Coding] = {}
    columns: list[Column] = []
    cs_columns: list[Column] = []
    monos: list[Monotonic] = []
    present_terms = {frozenset(t.names) for t in formula.terms if not t.cs}
    _check_cs_terms(formula)
    for term in formula.terms:
        for v in term.vars:
            if v.mo and len(term.vars) > 1:
                raise FormulaError(f"mo({v.name}) cannot be part of an interaction ({term})")
            key = f"mo({v.name})" if v.mo else v.name
            if key not in codings:
                codings[key] = _coding(data, v.name, codebook, v.mo, scale_continuous)
        block = _block_of(codebook, term.names, blocks, str(term))
        if term.vars[0].mo:
            c = codings[f"mo({term.vars[0].name})"]
            monos.append(Monotonic(c.name, c.levels, block))
            continue
        plain = {k: c for k, c in codings.items() if not k.startswith("mo(")}
        if term.cs:  # contrasts, as a main effect's; one coefficient per threshold
            cs_columns += _term_columns(term, plain, block, data)
            continue
        cols = [
            c
            for c in _term_columns(term, plain, block, data, present_terms)
            if c.name not in {x.name for x in columns}
        ]
        columns += cols
    groups = []
    for g in formula.groups:
        group = _group(g, data, codebook, codings, scale_continuous)
        if group.thresholds and ordered_family:
            group = replace(group, ordered=True)
        groups.append(group)
    y_field = codebook.fields.get(formula.outcome)
    if y_field is None or y_field.role != "outcome":
        raise FormulaError(
            f"the formula's outcome '{formula.outcome}' is not the codebook's outcome "
            f"('{codebook.outcome.name}')"
        )
    info = DesignInfo(
        outcome=formula.outcome,
        spectrum=tuple(codebook.spectrum),
        codings=codings,
        columns=tuple(columns),
        monotonic=tuple(monos),
        groups=tuple(groups),
        variables=tuple(formula.variables),
        outcome_range=codebook.outcome.range_columns,
        cs_columns=tuple(cs_columns),
    )
    if impute:
        levels, latent = _imputed(info, data, formula)
        info = DesignInfo(**{**info.__dict__, "imputed": levels, "latent": latent})
    design = apply_design(info, data, own=True)
    info = design.info  # (with the latent numbers' cells)
    if ordered_family and info.cs_columns:
        bounds = tuple(
            (float(x.min()), float(x.max())) for x in design.X_cs[_observed_cs(design)].T
        )
        info = DesignInfo(**{**info.__dict__, "cs_bounds": bounds})
        design.info = info
        cs_simplex(info)  # one covariate, not constant: checked here, where it is fitted
    # Drop interaction columns that are all zero in the data (unobserved cells). With
    # imputed covariates, a cell counts as observed only in rows that give its variables
    # (a copy's filled-in level is no observation of it).
    keep = [
        j
        for j, c in enumerate(info.columns)
        if len(c.parts) == 1 or np.any(design.X[_observed_copies(design, c), j] != 0)
    ]
    if len(keep) < len(info.columns):
        empty = tuple(c for j, c in enumerate(info.columns) if j not in set(keep))
        info = DesignInfo(
            **{
                **info.__dict__,
                "columns": tuple(info.columns[j] for j in keep),
                "empty_cells": empty,
            }
        )
        design.info, design.X = info, design.X[:, keep]
        design.latent = tuple(replace(lat, dX=lat.dX[:, keep]) for lat in design.latent)
    return design


def design_of_spec(data: pd.DataFrame, spec, codebook: Codebook, *, impute: bool = False):
    """:func:`make_design` with a specification's settings (``spec`` a
    :class:`~bayesresp.model.spec.ModelSpec`): its formula, ``[blocks]``, scaling of
    numbers, and the range of ordered cs() thresholds when its family needs them."""
    return make_design(
        data,
        spec.parsed,
        codebook,
        blocks=spec.blocks,
        scale_continuous=spec.scale_continuous,
        impute=impute,
        ordered_family=spec.response.ordered,
    )


def _observed_cs(design: Design) -> np.ndarray | slice:
    """The design rows whose cs() values the data give (every row, or each row's first
    copy when the model sums out missing covariates: a copy's filled-in level is none)."""
    if design.imputation is None:
        return slice(None)
    return design.imputation.first


def cs_simplex(info: DesignInfo) -> Simplex | None:
    """The region where the cs() thresholds of an ordered family are kept ordered
    (:class:`bayesresp.maths.thresholds.Simplex`): a factor's levels, or a number's
    smallest and largest fitted value; None for a recipe without ``cs_bounds``."""
    if not info.cs_bounds:
        return None
    terms = {c.term for c in info.cs_columns}
    if len(terms) > 1:
        raise SpecError(
            f"{', '.join(sorted(terms))}: the cumulative family keeps "
            "the thresholds of one cs() covariate ordered (at each of its levels, or at "
            "both ends of its range); several at once span combinations where they could "
            "cross. Keep one cs() term, or fit family = 'sratio', 'cratio' or 'acat'"
        )
    (term,) = terms
    J = len(info.cs_columns)
    if info.cs_columns[0].parts[0][1] is not None:  # a factor: its levels, the reference at 0
        coding = info.codings[info.cs_columns[0].parts[0][0]]
        labels = (coding.reference, *(c.parts[0][1] for c in info.cs_columns))
        return Simplex(np.vstack([np.zeros(J), np.eye(J)]), tuple(labels))
    ((low, high),) = info.cs_bounds
    if not high - low > 1e-9:
        raise SpecError(f"{term} is constant in the data; it cannot move the thresholds")
    return Simplex(np.array([[low], [high]]), ("min", "max"))


def _check_cs_rows(info: DesignInfo, data: pd.DataFrame, X_cs: np.ndarray) -> None:
    """Refuse rows whose cs() value lies outside the range where the fit keeps its
    thresholds ordered (a number beyond its fitted smallest or largest value)."""
    simplex = cs_simplex(info)
    if simplex is None:
        return
    outside = np.flatnonzero(~simplex.contains(X_cs))
    if outside.size == 0:
        return
    i = int(outside[0])
    name = info.cs_columns[0].parts[0][0]
    c = info.codings[name]
    low, high = (v * c.scale + c.center for v in info.cs_bounds[0])
    raise ProfileError(
        f"row {data.index[i]!r}: {name} = {float(data[name].iloc[i]):g} lies outside "
        f"{low:g} .. {high:g}, the range of the fitting data over which the cumulative "
        f"model keeps the thresholds of cs({name}) ordered ({outside.size} row(s) outside); "
        "ask about values inside it, or fit family = 'sratio', 'cratio' or 'acat', whose "
        "thresholds need no order"
    )


def _check_cs_terms(formula: Formula) -> None:
    """A cs() term is one covariate (not part of an interaction), and not also a common
    effect: the coefficient it would share with itself is not identified."""
    for term in formula.terms:
        if term.cs and len(term.vars) > 1:
            raise FormulaError(
                f"cs() cannot be part of an interaction ({term}); write cs() of one covariate"
            )
        if not term.cs:
            continue
        name = term.names[0]
        clash = [str(t) for t in formula.terms if not t.cs and name in t.names]
        if clash:
            raise FormulaError(
                f"{name} is both in the common term {clash[0]} and in cs({name}); keep "
                f"cs({name}) out of common terms (its coefficients per threshold and theirs "
                "would trade against each other)"
            )


def _observed_copies(design: Design, column: Column) -> np.ndarray | slice:
    """The design rows whose values of ``column`` the data give: every row, or for a design
    of copies the first copy of each row that lacks none of the column's variables."""
    imp = design.imputation
    names = {n for n, _ in column.parts}
    seen = np.ones(design.n, dtype=bool)
    for m, lat in zip(design.info.latent, design.latent, strict=True):
        if m.var in names:
            seen &= ~lat.missing
    if imp is None:
        return seen
    lacking = [j for j, m in enumerate(design.info.imputed) if m.var in names]
    rows = ~imp.missing[:, lacking].any(axis=1) if lacking else np.ones(imp.n_rows, bool)
    return imp.first[rows & seen[imp.first]]


def _imputed(
    info: DesignInfo, data: pd.DataFrame, formula: Formula
) -> tuple[tuple[Imputed, ...], tuple[Latent, ...]]:
    """The covariates that some rows lack, each with its own model's predictors (the
    main-effect columns of the covariates no row lacks) and group (the formula's first
    group term of one factor: the mission, in the shipped models): those with levels
    (summed out), then the numbers (latent values)."""
    grouping = {n for g in formula.groups for n in g.factor}
    lacking = [
        v
        for v in formula.variables
        if v != formula.outcome and v not in grouping and v in data and data[v].isna().any()
    ]
    kinds = {k[3:-1] if k.startswith("mo(") else k: c for k, c in info.codings.items()}
    predictors = tuple(
        c.name for c in info.columns if len(c.parts) == 1 and c.parts[0][0] not in lacking
    ) + tuple(m.name for m in info.monotonic if m.var not in lacking)
    group = next((g.label for g in info.groups if len(g.factor) == 1), None)
    numbers = [v for v in lacking if kinds[v].kind == "continuous"]
    _check_latent_columns(info, numbers)
    levels = tuple(
        Imputed(v, kinds[v].observed, predictors, group) for v in lacking if v not in numbers
    )
    latent = []
    for v in numbers:
        x = pd.to_numeric(data[v], errors="raise").astype(float)
        sd = float(x.std(ddof=0))
        if x.notna().sum() < 2 or not np.isfinite(sd) or sd == 0:
            raise BayesrespError(
                f"missing='model' gives a number's missing cells a model of its own, fitted "
                f"to its observed cells; {v} has {int(x.notna().sum())} observed cell(s)"
                + ("" if x.notna().sum() < 2 else ", all equal")
                + ": fill its missing cells, or fit with missing='drop'"
            )
        latent.append(Latent(v, predictors, group, float(x.mean()), sd))
    return levels, tuple(latent)


def _check_latent_columns(info: DesignInfo, numbers: list[str]) -> None:
    """Each design column is linear in a latent number: refuse a column of two of them
    (their product) and cs() of one (its thresholds would move with a latent value)."""
    numbers_set = set(numbers)
    columns = [*info.columns, *(c for g in info.groups for c in g.columns)]
    for c in columns:
        both = [n for n, _ in c.parts if n in numbers_set]
        if len(both) > 1:
            raise BayesrespError(
                f"missing='model': the term {c.term} multiplies {' and '.join(both)}, numbers "
                "that both have missing cells; the model gives each a latent value and keeps "
                "every column linear in it. Fill one of them, drop the product, or fit with "
                "missing='drop'"
            )
    for c in info.cs_columns:
        if c.parts[0][0] in numbers_set:
            raise BayesrespError(
                f"missing='model': {c.term} moves the thresholds by a number with missing "
                f"cells ({c.parts[0][0]}); the model does not give such a number latent "
                "values. Fill its missing cells, use it as a common term, or fit with "
                "missing='drop'"
            )


#: The most copies of rows (one per combination of a row's missing levels) a design may
#: have: each copy is a row of the model's arrays, evaluated at every gradient.
MAX_COPIES = 1_000_000


def predictor_values(design: Design, m: Imputed, rows: np.ndarray, xp=None):
    """The values of ``m.predictors`` at the design rows ``rows`` (n, P): design columns,
    and mo() codes scaled to 0-1. ``xp`` None: NumPy arrays; else the model's data
    tensors ``X`` and ``mono`` in a dict (``xp`` is that dict)."""
    info = design.info
    X = design.X if xp is None else xp["X"]
    mono = design.mono if xp is None else xp["mono"]
    parts = []
    for name in m.predictors:
        if name in info.column_names:
            parts.append(X[rows][:, info.column_names.index(name)])
        else:
            j = [mo.name for mo in info.monotonic].index(name)
            parts.append(mono[rows][:, j] / (len(info.monotonic[j].levels) - 1))
    if xp is None:
        return np.column_stack(parts) if parts else np.zeros((len(rows), 0))
    import pytensor.tensor as pt

    return pt.stack(parts, axis=1) if parts else pt.zeros((len(rows), 0))


def expand(info: DesignInfo, data: pd.DataFrame) -> tuple[pd.DataFrame, Imputation]:
    """The copies of ``data`` for a recipe with imputed covariates: each row that lacks
    some of them once per combination of their levels (the cells filled in), each other
    row once; and the map between copies and rows."""
    n, V = len(data), len(info.imputed)
    missing = np.zeros((n, V), dtype=bool)
    observed = np.zeros((n, V), dtype=np.int64)
    for j, m in enumerate(info.imputed):
        if m.var not in data:  # (rows that do not give it at all: every cell missing)
            missing[:, j] = True
            continue
        values = _factor_values(data, m.var)
        missing[:, j] = values.isna().to_numpy()
        lookup = {lv: i for i, lv in enumerate(m.levels)}
        # a level the fit never saw is refused by the caller (unobserved_levels)
        observed[:, j] = values.map(lambda v, lk=lookup: lk.get(v, 0)).to_numpy(np.int64)
    sizes = np.array([len(m.levels) for m in info.imputed])
    per_row = np.prod(np.where(missing, sizes[None, :], 1), axis=1)
    if per_row.sum() > MAX_COPIES:
        worst = int(np.argmax(per_row))
        raise BayesrespError(
            f"summing out the missing covariates would take {int(per_row.sum()):,} copies "
            f"of the {n:,} rows (row {worst + 1} alone: {int(per_row[worst]):,}, one per "
            "combination of its missing levels), more than the "
            f"{MAX_COPIES:,} this model holds in memory: fill some of "
            + ", ".join(m.var for m in info.imputed)
            + ", or leave rows lacking several of them out"
        )
    rows, levels, counts = [], [], np.ones(n, dtype=np.int64)
    for i in range(n):
        lacks = np.flatnonzero(missing[i])
        if lacks.size == 0:
            rows.append(i)
            levels.append(observed[i])
            continue
        combos = list(product(*(range(sizes[j]) for j in lacks)))
        counts[i] = len(combos)
        for combo in combos:
            lv = observed[i].copy()
            lv[lacks] = combo
            rows.append(i)
            levels.append(lv)
    row = np.asarray(rows, dtype=np.int64)
    level = np.asarray(levels, dtype=np.int64).reshape(len(row), V)
    width = int(counts.max()) if n else 1
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    offsets = np.arange(width)
    mask = offsets[None, :] < counts[:, None]
    slots = np.where(mask, starts[:, None] + offsets[None, :], starts[:, None])
    copies = data.iloc[row].reset_index(drop=True)
    for j, m in enumerate(info.imputed):
        filled = np.asarray(m.levels, dtype=object)[level[:, j]]
        if m.var in copies and isinstance(copies[m.var].dtype, pd.CategoricalDtype):
            dtype = copies[m.var].dtype
            copies[m.var] = pd.Categorical(filled, dtype=dtype)
        else:
            copies[m.var] = filled
    return copies, Imputation(row, level, missing, slots, mask)


def _group(
    g: GroupTerm, data: pd.DataFrame, cb: Codebook, codings: dict[str, Coding], scale: bool
) -> Group:
    for name in g.factor:
        if name not in data:
            raise FormulaError(f"group term {g}: the data have no column '{name}'")
        f = cb.fields.get(name)
        if f is not None and f.nested_in and f.nested_in not in g.factor:
            raise FormulaError(
                f"group term {g}: '{name}' is nested in '{f.nested_in}' (the same name in "
                f"two {f.nested_in}s is two groups); write (1 | {f.nested_in}/{name}) or "
                f"(1 | {f.nested_in}:{name})"
            )
    labels = _group_labels(data, g.factor)
    levels = tuple(sorted(set(labels.dropna())))
    if g.thresholds:  # one deviation per threshold, named as the cutpoint
        names = cutpoint_names(tuple(cb.spectrum))
        cols = tuple(Column(name, "cs(1)", g.label, ()) for name in names)
        return Group(g.label, g.factor, levels, cols, g.correlated, thresholds=True)
    columns: list[Column] = []
    if g.intercept:
        columns.append(Column("Intercept", "1", g.label, ()))
    for term in g.slopes:
        for v in term.vars:
            if v.name not in codings:
                codings[v.name] = _coding(data, v.name, cb, False, scale)
        columns += _term_columns(term, codings, g.label, data)
    if not columns:
        raise FormulaError(f"group term {g} has neither an intercept nor slopes")
    return Group(g.label, g.factor, levels, tuple(columns), g.correlated)


def _group_labels(data: pd.DataFrame, factor: tuple[str, ...]) -> pd.Series:
    parts = [data[n].astype(object).where(data[n].notna(), None) for n in factor]
    out = parts[0].map(lambda v: None if v is None else str(v))
    for p in parts[1:]:
        out = pd.Series(
            [None if (a is None or b is None) else f"{a}:{b}" for a, b in zip(out, p, strict=True)],
            index=data.index,
        )
    return out


# -- applying the recipe ----------------------------------------------------------------
def unobserved_levels(info: DesignInfo, data: pd.DataFrame) -> list[tuple[int, str, str]]:
    """(row position, variable, level) of values the fitting data never had, and of
    interaction cells (term, cell) absent from the fitting data.

    The model has learnt nothing about such a level (it has no coefficient), so a
    prediction for it would silently equal the reference level's: callers refuse them.
    """
    out = []
    for key, c in info.codings.items():
        var = key[3:-1] if key.startswith("mo(") else key
        if c.kind == "continuous" or var not in data or not c.observed:
            continue  # (no record of the observed levels: nothing to check against)
        values = _factor_values(data, var)
        for pos in np.flatnonzero(~values.isin(c.observed).to_numpy() & values.notna().to_numpy()):
            out.append((int(pos), var, str(values.iloc[pos])))
    for cell in info.empty_cells:
        if all(n in data for n, _ in cell.parts):
            hit = np.flatnonzero(_column_values(cell, data, info.codings) != 0)
            out += [(int(pos), cell.term, cell.name) for pos in hit]
    return out


def _column_values(col: Column, data: pd.DataFrame, codings: dict[str, Coding]) -> np.ndarray:
    x = np.ones(len(data))
    for name, level in col.parts:
        if level is None:
            c = codings[name]
            x = x * ((data[name].astype(float).to_numpy() - c.center) / c.scale)
        else:
            x = x * (_factor_values(data, name) == level).to_numpy(dtype=float)
    return x


def apply_design(
    info: DesignInfo,
    data: pd.DataFrame,
    coders: bool = False,
    *,
    own: bool = False,
    positions: np.ndarray | None = None,
) -> Design:
    """Arrays for ``data`` with the recipe ``info`` (rows must be complete and valid).

    ``coders=True`` (the fitted rows, for a fit with the coders' layer) also reads each
    row's response and coder (:class:`Coders`); predictions never need them.

    A recipe with latent numbers (``info.latent``, :class:`Latent`): where a row lacks
    one, its value is the model's. ``own=True``: ``data`` are the rows a model is fitted
    to, whose missing cells are its parameters (the cells are numbered here and recorded
    in the returned design's ``info``); ``positions``: the rows' positions in the fitted
    rows, so that a fitted row's missing cell is read from the fit's draws of it;
    otherwise a missing cell is a fresh value from the number's model.

    Group levels the fit has not seen, and rows without the group's columns, get index
    ``-1``; the caller decides what that means (an error for ``groups="known"``, a new
    draw for ``groups="new"``).

    For a recipe with imputed covariates (``info.imputed``) the arrays are those of the
    rows' copies (:func:`expand`, :class:`Imputation`), each copy weighted by its share
    of its row.
    """
    if info.latent:
        return _apply_latent(info, data, coders, own, positions)
    if info.cs_bounds:  # rows outside the range where the thresholds stay ordered
        X_cs = np.column_stack([_column_values(c, data, info.codings) for c in info.cs_columns])
        _check_cs_rows(info, data, X_cs)
    if info.imputed:
        copies, imputation = expand(info, data)
        design = _apply(info, copies, False)
        design.imputation = imputation
        design.weights = 1.0 / imputation.copies[imputation.row]
        if coders and info.coder_columns and design.y is not None:  # codes: the data's rows
            design.coders = make_coders(data, info.coder_columns, info.coders)
        return design
    return _apply(info, data, coders)


def _number_values(data: pd.DataFrame, var: str) -> np.ndarray:
    """A number's values (NaN where missing, and everywhere when the data lack it)."""
    if var not in data:
        return np.full(len(data), np.nan)
    return pd.to_numeric(data[var], errors="raise").to_numpy(dtype=float)


def _apply_latent(
    info: DesignInfo,
    data: pd.DataFrame,
    coders: bool,
    own: bool,
    positions: np.ndarray | None,
) -> Design:
    """:func:`apply_design` for a recipe with latent numbers: the design at each latent
    value 0 (the number's own mean), and per number the change of its columns per unit
    (the design at value 1 less that at 0: exact, as every column is linear in it)."""
    plain = replace(info, latent=())
    values = {m.var: _number_values(data, m.var) for m in info.latent}
    at = {m.var: np.where(np.isnan(values[m.var]), m.center, values[m.var]) for m in info.latent}
    design = apply_design(plain, data.assign(**at), coders)
    n = design.n
    src = design.imputation.row if design.imputation is not None else np.arange(n)
    # one value per unit: a data row, or under the coders' layer a response
    if design.coders is not None:
        unit = design.coders.response
        unit_row = design.coders.first
    else:
        unit = np.arange(len(data))
        unit_row = np.arange(len(data))
    first = design.imputation.first if design.imputation is not None else np.arange(n)
    counted = np.zeros(n, dtype=bool)
    counted[first[unit_row]] = True
    columns, recorded = [], []
    for m in info.latent:
        lacking = np.isnan(values[m.var])
        up = apply_design(
            plain,
            data.assign(**{**at, m.var: np.where(lacking, m.center + m.scale, at[m.var])}),
            coders,
        )
        missing = lacking[src]
        dX = np.where(missing[:, None], up.X - design.X, 0.0)
        dZ = {
            k: np.where(missing[:, None], up.group_Z[k] - z, 0.0) for k, z in design.group_Z.items()
        }
        cell_of_row = np.full(len(data), -1, dtype=np.int64)
        if own:
            unit_lacks = lacking[unit_row]
            if np.any(lacking != unit_lacks[unit]):  # (validation refuses such codes)
                raise BayesrespError(
                    f"the codes of one response disagree on whether {m.var} is given"
                )
            rank = np.cumsum(unit_lacks) - 1
            cell_of_row = np.where(lacking, rank[unit], -1)
            rows = np.flatnonzero(lacking)
            m = replace(m, rows=tuple(map(int, rows)), cells=tuple(map(int, cell_of_row[rows])))
        elif positions is not None and m.rows:
            pos = np.asarray(positions, dtype=np.int64)
            fitted = np.asarray(m.rows, dtype=np.int64)
            at_pos = np.clip(np.searchsorted(fitted, pos), 0, len(fitted) - 1)
            hit = lacking & (fitted[at_pos] == pos)
            cell_of_row = np.where(hit, np.asarray(m.cells)[at_pos], -1)
        recorded.append(m)
        value = (values[m.var] - m.center) / m.scale
        columns.append(LatentColumns(missing, cell_of_row[src], value[src], dX, dZ, src, counted))
    design.info = replace(info, latent=tuple(recorded))
    design.latent = tuple(columns)
    return design


def unfitted(design: Design) -> Design:
    """The design with its rows' latent values taken as unknown (every cell fresh): what
    a row's likelihood with its missing numbers integrated over their models reads (the
    log-likelihood a fit stores, as a missing level's is summed out)."""
    if not design.latent:
        return design
    return replace(
        design,
        latent=tuple(replace(lat, cell=np.full_like(lat.cell, -1)) for lat in design.latent),
    )


def shift_latent(design: Design, var: str, step: float) -> Design:
    """The design with the latent number ``var``'s missing values moved by ``step`` (on
    its own standard scale): each such row's columns moved by ``step`` times their change
    per unit (exact: they are linear in it). An intervention that moves a number moves
    the values the model holds for its missing cells too."""
    j = [m.var for m in design.info.latent].index(var)
    lat = design.latent[j]
    return replace(
        design,
        X=design.X + step * lat.dX,
        group_Z={k: z + step * lat.dZ[k] for k, z in design.group_Z.items()},
    )


def _apply(info: DesignInfo, data: pd.DataFrame, coders: bool) -> Design:
    n = len(data)
    X = (
        np.column_stack([_column_values(c, data, info.codings) for c in info.columns])
        if info.columns
        else np.zeros((n, 0))
    )
    mono = np.zeros((n, len(info.monotonic)), dtype=np.int64)
    for j, m in enumerate(info.monotonic):
        lookup = {lv: i for i, lv in enumerate(m.levels)}
        mono[:, j] = _factor_values(data, m.var).map(lookup).to_numpy(dtype=np.int64)
    group_index, group_Z = {}, {}
    for g in info.groups:
        if all(name in data for name in g.factor):
            lookup = {lv: i for i, lv in enumerate(g.levels)}
            labels = _group_labels(data, g.factor)
            index = labels.map(lambda v, lk=lookup: lk.get(v, -1)).to_numpy(np.int64)
        else:  # rows that name no group (a hypothetical official): unseen by definition
            index = np.full(n, -1, dtype=np.int64)
        group_index[g.label] = index
        group_Z[g.label] = np.column_stack(
            [_column_values(c, data, info.codings) for c in g.columns]
        )
    y, y_high = outcome_codes(info, data)
    layer = None
    if coders and info.coder_columns and y is not None:
        layer = make_coders(data, info.coder_columns, info.coders)  # codes of responses
    X_cs = None
    if info.cs_columns:
        X_cs = np.column_stack([_column_values(c, data, info.codings) for c in info.cs_columns])
    return Design(info, X, mono, group_index, group_Z, y, np.ones(n), y_high, layer, X_cs=X_cs)


def outcome_codes(info: DesignInfo, data: pd.DataFrame) -> tuple[np.ndarray | None, ...]:
    """0-based outcome codes and, where some rows are ranges, each row's highest level
    (validated data: a row with its outcome missing has both range columns)."""
    if info.outcome not in data:
        return None, None
    lookup = {lv: i for i, lv in enumerate(info.spectrum)}

    def codes(name):
        return _factor_values(data, name).map(lookup).to_numpy(dtype=float)

    y = codes(info.outcome)
    blank = np.isnan(y)
    if not blank.any():
        return y.astype(np.int64), None
    low_name, high_name = info.outcome_range or (None, None)
    first = int(np.flatnonzero(blank)[0]) + 1
    if low_name not in data or high_name not in data:
        raise BayesrespError(
            f"{int(blank.sum())} row(s) without a value of '{info.outcome}' (the first: row "
            f"{first}) and no range columns to read them from: validate the data first"
        )
    low, high = codes(low_name), codes(high_name)
    if np.isnan(low[blank]).any() or np.isnan(high[blank]).any():
        raise BayesrespError(
            f"a row without a value of '{info.outcome}' needs both '{low_name}' and "
            f"'{high_name}': validate the data first"
        )
    y_low = np.where(blank, low, y).astype(np.int64)
    y_high = np.where(blank, high, y).astype(np.int64)
    if np.any(y_high < y_low):
        raise BayesrespError(
            f"a range of '{info.outcome}' whose highest level lies below its lowest: "
            "validate the data first"
        )
    return y_low, (y_high if np.any(y_high > y_low) else None)


# -- exact compression ------------------------------------------------------------------
def compress(design: Design) -> tuple[Design, np.ndarray]:
    """The design's distinct rows, each weighted by how many rows it stands for.

    Rows with the same covariate values, the same groups and the same outcome (or range) add the
    same term to the log-likelihood, so ``sum_i loglik_i`` equals
    ``sum_u count_u * loglik_u`` over the distinct rows ``u``: the posterior is exactly
    the same. Returns the compressed design and, for every original row, the index of its
    distinct row (``compressed_arrays[inverse] == original_arrays``).
    """
    if design.y is None:
        raise ValueError("only a design with an outcome can be compressed")
    if design.coders is not None:
        raise ValueError("a design with the coders' layer is not compressed (rows are codes)")
    if design.imputation is not None:
        raise ValueError("a design with imputed covariates is not compressed (rows are copies)")
    if any(lat.missing.any() for lat in design.latent):
        raise ValueError("a design with latent values is not compressed (each row has its own)")
    info = design.info
    parts = [design.X, design.mono.astype(float), design.y[:, None].astype(float)]
    if design.X_cs is not None:
        parts.append(design.X_cs)
    if design.y_high is not None:
        parts.append(design.y_high[:, None].astype(float))
    for g in info.groups:
        parts += [design.group_index[g.label][:, None].astype(float), design.group_Z[g.label]]
    key = np.ascontiguousarray(np.column_stack(parts))
    # Unique rows by their exact bytes (no float comparison tolerance: exactly equal only).
    _, first, inverse = np.unique(
        key.view(np.dtype((np.void, key.dtype.itemsize * key.shape[1]))).ravel(),
        return_index=True,
        return_inverse=True,
    )
    weights = np.bincount(inverse, weights=design.weights, minlength=len(first))
    compressed = Design(
        info,
        design.X[first],
        design.mono[first],
        {k: v[first] for k, v in design.group_index.items()},
        {k: v[first] for k, v in design.group_Z.items()},
        design.y[first],
        weights,
        None if design.y_high is None else design.y_high[first],
        prior_values=design.prior_values,
        X_cs=None if design.X_cs is None else design.X_cs[first],
    )
    return compressed, inverse


def cutpoint_names(spectrum: tuple[str, ...]) -> list[str]:
    """Names of the cutpoints between adjacent levels: ``"silence|mild_concern"``."""
    return [f"{a}|{b}" for a, b in zip(spectrum[:-1], spectrum[1:], strict=True)]
