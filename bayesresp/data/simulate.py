"""Draw synthetic coded data sets from the theory, with known true parameters.

The generating model is the cumulative-logit hierarchical model of the domain:
``P(response <= k) = logistic(c_k - eta)``, where ``eta`` adds incident, individual,
departmental, positional and mission effects, a mission intercept, a
department-within-mission intercept and an official intercept. The effects have the
signs the paper hypothesises; their sizes are illustrative (documented in
:data:`DEFAULT_EFFECTS`), not estimates from any real data.

Ordinal covariates act monotonically: the effect of level ``j`` is
``total * sum(simplex[:j])`` (``total`` is the effect of the highest level against the
lowest, as ``mo()`` terms are parametrised in bayesresp). The truth file gives both
this form and the equivalent treatment-coded coefficients.

Everything simulated says so: each row's ``source`` column reads
``synthetic (bayesresp.simulate, seed S)``, and the truth file has ``"synthetic": true``.

Time and memory grow linearly with the rows (a million rows in seconds, in well under a
GiB; ``benchmarks/simulate_speed.py``). The draws are made in one fixed order, one
official and then one incident at a time, so that a seed gives the same data byte for
byte at any size, and the bytes the simulator has always given (with the same numpy).
The loops read the generator's raw words in bulk and turn them into numpy's own
uniforms, integers, Poisson counts and choices (:class:`_Words`); the frame is built
column by column.
"""

from __future__ import annotations

import json
import math
from bisect import bisect_right
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from bayesresp.data.codebook import Codebook
from bayesresp.data.tables import write_csv
from bayesresp.maths import predictor

#: Illustrative effects on the latent scale (logits; + is towards confrontation).
#: Nominal covariates: effect of each level against the codebook's first level.
#: Ordinal covariates: ``{"total": effect of top vs bottom level, "simplex": shares}``.
#: ``years_at_station``: effect per year.
DEFAULT_EFFECTS: dict[str, Any] = {
    "violation_type": {
        "electoral_manipulation": -0.3,
        "civic_space_restriction": -0.4,
        "sexual_and_gender_based": 0.2,
        "obstruction_of_mission": 0.5,
        "other": -0.5,
    },
    "severity": {"total": 1.8, "simplex": [0.3, 0.3, 0.4]},
    "background": {
        "humanitarian": 0.4,
        "human_rights_legal": 1.0,
        "military_security": 0.9,
        "diplomatic_political": 0.3,
        "other": 0.3,
    },
    "nationality_group": {"global_south": 0.4},
    "career_security": {"total": 0.8, "simplex": [0.5, 0.5]},
    "years_at_station": -0.1,
    "politicization": {"total": 0.9, "simplex": [0.4, 0.6]},
    "professional_composition": {
        "mixed_generalists": -0.4,
        "administrators_and_technicians": -0.8,
    },
    "interlocutor": {
        "local_communities": -0.1,
        "technical_ministries": -0.5,
        "security_forces": -0.9,
        "senior_political_elites": -0.8,
    },
    "hierarchy_level": {"total": -1.0, "simplex": [0.2, 0.3, 0.5]},
    "external_link": {"integrated_reporting_line": 0.7, "independent_structure": 0.6},
    "duty_location": {"field_office": 0.5, "un_headquarters": 0.8},
    "host_consent_leverage": {"total": -0.8, "simplex": [0.5, 0.5]},
    "mission_phase": {"established": 0.1, "drawdown": -0.6},
}

#: Standard deviations of the group intercepts (latent scale).
DEFAULT_SD: dict[str, float] = {"mission": 0.5, "mission:department": 0.4, "official_id": 0.5}

#: Cutpoints c_1 < ... < c_7 between the eight default spectrum levels. Chosen so that
#: the simulated spectrum looks like the paper's accounts: mostly quiet diplomacy,
#: mild concern and private condemnation; enforcement and concealment rare.
DEFAULT_CUTPOINTS: tuple[float, ...] = (-2.7, -1.3, -0.2, 1.1, 2.2, 3.4, 4.7)

# Missions of the paper's case table (in a fixed order); more are numbered.
MISSIONS = (
    ("MONUSCO", 1999, 2023),
    ("UNMIL", 2003, 2018),
    ("UNOCI", 2004, 2017),
    ("MINUSTAH", 2004, 2017),
    ("UNAMID", 2007, 2020),
    ("UNMISS", 2011, 2023),
    ("MINUSMA", 2013, 2023),
    ("MINUSCA", 2014, 2023),
    ("UNAMSIL", 1999, 2005),
    ("UNMIS", 2005, 2011),
    ("UNMIT", 2006, 2012),
    ("UNMISET", 2002, 2005),
    ("UNTAC", 1992, 1993),
    ("UNPROFOR", 1992, 1995),
    ("UNTAES", 1996, 1998),
)

# Department templates: typical politicization, professional composition and
# interlocutor (a department departs from its kind's typical value with probability 0.3,
# as context varies), probability of each external link, and the backgrounds its staff
# come from.
_BACKGROUNDS = (
    "development_agency",
    "humanitarian",
    "human_rights_legal",
    "military_security",
    "diplomatic_political",
    "other",
)
DEPARTMENTS: dict[str, dict[str, Any]] = {
    "Office of the SRSG": dict(
        pol="high",
        comp="mixed_generalists",
        inter="senior_political_elites",
        link=(1, 0, 0),
        bg=(3, 1, 1, 2, 3, 1),
    ),
    "Human Rights": dict(
        pol="high",
        comp="rights_and_legal_specialists",
        inter="victims_and_civil_society",
        link=(0.2, 0.8, 0),
        bg=(1, 1, 6, 0.3, 1, 0.5),
    ),
    "Political Affairs": dict(
        pol="high",
        comp="mixed_generalists",
        inter="senior_political_elites",
        link=(1, 0, 0),
        bg=(1, 0.5, 1, 0.5, 5, 1),
    ),
    "Civil Affairs": dict(
        pol="medium",
        comp="mixed_generalists",
        inter="local_communities",
        link=(1, 0, 0),
        bg=(3, 2, 1, 0.5, 1, 1),
    ),
    "Electoral Affairs": dict(
        pol="low",
        comp="administrators_and_technicians",
        inter="technical_ministries",
        link=(0.7, 0, 0.3),
        bg=(3, 0.5, 1, 0.3, 1, 2),
    ),
    "Security Sector Reform": dict(
        pol="medium",
        comp="mixed_generalists",
        inter="security_forces",
        link=(1, 0, 0),
        bg=(1, 0.3, 0.5, 5, 1, 1),
    ),
    "DDR and Stabilization": dict(
        pol="low",
        comp="administrators_and_technicians",
        inter="security_forces",
        link=(1, 0, 0),
        bg=(3, 2, 0.3, 3, 0.5, 1),
    ),
    "Rule of Law": dict(
        pol="medium",
        comp="rights_and_legal_specialists",
        inter="technical_ministries",
        link=(1, 0, 0),
        bg=(2, 0.3, 5, 1, 1, 1),
    ),
    "Child Protection": dict(
        pol="medium",
        comp="rights_and_legal_specialists",
        inter="victims_and_civil_society",
        link=(1, 0, 0),
        bg=(2, 3, 3, 0.3, 0.5, 1),
    ),
    "Gender Affairs": dict(
        pol="medium",
        comp="mixed_generalists",
        inter="victims_and_civil_society",
        link=(1, 0, 0),
        bg=(3, 2, 2, 0.3, 1, 1),
    ),
    "Public Information": dict(
        pol="medium",
        comp="mixed_generalists",
        inter="local_communities",
        link=(1, 0, 0),
        bg=(2, 1, 1, 0.5, 2, 3),
    ),
    "Mission Support": dict(
        pol="low",
        comp="administrators_and_technicians",
        inter="technical_ministries",
        link=(1, 0, 0),
        bg=(3, 1, 0.3, 2, 0.5, 3),
    ),
}
_CORE_DEPARTMENTS = ("Office of the SRSG", "Human Rights", "Political Affairs")

COLUMNS = (
    "response_id",
    "incident_id",
    "year",
    "mission",
    "department",
    "official_id",
    "response",
    "violation_type",
    "severity",
    "background",
    "nationality_group",
    "career_security",
    "years_at_station",
    "politicization",
    "professional_composition",
    "interlocutor",
    "hierarchy_level",
    "external_link",
    "duty_location",
    "host_consent_leverage",
    "mission_phase",
    "source",
)


@dataclass
class Simulation:
    """A simulated data set and the parameters it was drawn from.

    Attributes
    ----------
    data : pandas.DataFrame
        The coded rows, typed as :func:`bayesresp.validate` returns them.
    truth : dict
        True parameters (JSON-ready): cutpoints, coefficients (treatment-coded and
        monotonic), group standard deviations and the drawn group effects.
    """

    data: pd.DataFrame
    truth: dict[str, Any]

    def write(self, out: str | Path, truth: str | Path | None = None) -> None:
        """Write the data (CSV or Parquet by suffix) and, optionally, the truth JSON."""
        out = Path(out)
        if out.suffix.lower() in (".parquet", ".pq"):
            frame = self.data.copy()
            for col in frame.columns:
                if isinstance(frame[col].dtype, pd.CategoricalDtype):
                    frame[col] = frame[col].astype(object)
            frame.to_parquet(out, index=False)
        else:
            write_csv(self.data, out)
        if truth is not None:
            Path(truth).write_text(truth_json(self.truth), encoding="utf-8")


def truth_json(truth: dict[str, Any]) -> str:
    """The truth as stable, human-readable JSON text."""
    return json.dumps(truth, indent=2, ensure_ascii=False) + "\n"


def simulate(
    missions: int = 12,
    rows: int = 2000,
    seed: int | None = None,
    *,
    officials: int | None = None,
    effects: dict[str, Any] | None = None,
    sd: dict[str, float] | None = None,
    cutpoints: tuple[float, ...] | None = None,
    coders: int = 0,
    double_coded: float = 0.0,
    coder_sd: float = 0.5,
    coder_spread: float = 0.5,
    coder_spread_sd: float = 0.4,
    ambiguous: float = 0.0,
    missing: dict[str, float] | None = None,
    category_specific: dict[str, dict[str, Any]] | None = None,
) -> Simulation:
    """Draw a synthetic coded data set from the hierarchical cumulative-logit model.

    Parameters
    ----------
    missions : int
        Number of missions (named after the paper's cases; more than 15 are numbered).
    rows : int
        Number of responses (rows).
    seed : int, optional
        Seed of the random generator; the same seed gives the same data, byte for byte.
        Without one, a fresh seed is drawn and recorded in the truth and ``source``.
    officials : int, optional
        Number of officials, at least one per mission (its head); ``rows // 5`` (and at
        least 4 per mission) by default, so officials appear in several rows.
    effects, sd, cutpoints : optional
        Replace the defaults (``DEFAULT_EFFECTS``, ``DEFAULT_SD``, ``DEFAULT_CUTPOINTS``
        in :mod:`bayesresp.data.simulate`); ``effects`` is merged key by key.
    coders : int
        With coders, each response is coded by one of them (``coder_id``), who reads its
        true level (the level of its latent propensity) as the hierarchical rater model
        says (:mod:`bayesresp.maths.rater`): the coder sees ``true + leniency + e``, ``e``
        logistic of sd ``spread``, and writes the nearest level. Each coder's leniency (levels)
        is normal with sd ``coder_sd``, centred on the coders' mean (codes identify
        leniency relative to the average coder only); each coder's spread (levels) is
        log-normal with median ``coder_spread`` and log-scale sd ``coder_spread_sd``. The
        truth holds both per coder (``truth["coders"]``) and each response's true level
        (``truth["coding"]["true_level"]``, by row).
    double_coded : float
        Share of responses coded a second time, by another coder (a second row with the
        same ``response_id``), for reliability studies and the model of coders.
    ambiguous : float
        Share of responses the coder could not place on one level: coded as a range of
        two or three adjacent levels that contains the drawn level (``response`` left
        empty, the range in ``response_low`` and ``response_high``). Which responses,
        the range's width and its position on a grid of that width are drawn
        independently of the response, so the ranges are coarsened at random: the
        likelihood P(low <= y <= high) is then the right one.
    missing : dict, optional
        Covariates (with levels, or numbers) to leave empty in a share of the rows,
        ``{"background": 0.3, "years_at_station": 0.2}``: missing at random given observed
        values, never given the response or the value itself. A row's chance of a blank
        is a logistic function of its mission (a normal shift of sd 0.7 per mission) and
        of its ``hierarchy_level`` (its ``severity`` for ``hierarchy_level`` itself), its
        intercept set so that the expected share is the one asked. Drawn from a random
        stream of their own, so the other values are those of the same call without
        ``missing``. The truth records, per covariate, the responses left without it and
        their values (levels, or numbers) (``truth["missing"]``); the data are what
        ``missing="model"`` fits.
    category_specific : dict, optional
        Effects that break proportional odds: ``{"severity": {"grave": [s_1, ...,
        s_{K-1}], ...}}`` moves the thresholds of rows at that level to ``c_k - s_k``, on
        top of the covariate's common effect in ``effects`` (set it to 0 for the level's
        whole effect to be these shifts); levels not named move by nothing. Every named
        level's thresholds must stay increasing. Recorded in
        ``truth["category_specific"]``; the other draws are those of the same call
        without it. The model ``cs(severity)`` fits these data.

    Returns
    -------
    Simulation

    Examples
    --------
    >>> from bayesresp import simulate
    >>> sim = simulate(missions=3, rows=200, seed=1)
    >>> sim.data["mission"].nunique()
    3
    >>> sorted(sim.truth["sd"])
    ['mission', 'mission:department', 'official_id']
    """
    if missions < 1 or rows < missions:
        raise ValueError("simulate needs at least one mission and one row per mission")
    if not 0.0 <= ambiguous <= 1.0:
        raise ValueError(f"ambiguous must be a share from 0 to 1, not {ambiguous}")
    for var, share in (missing or {}).items():
        field_ = Codebook.default().fields.get(var)
        number = field_ is not None and field_.kind in ("continuous", "integer")
        if (
            field_ is None
            or field_.role != "covariate"
            or (field_.categories is None and not number)
        ):
            raise ValueError(f"missing: '{var}' is not a covariate of the codebook")
        if not 0.0 <= share < 1.0:
            raise ValueError(
                f"missing: the share of '{var}' must be from 0 to below 1, not {share}"
            )
    if seed is None:  # record the seed actually used, so every draw can be repeated
        seed = int(np.random.SeedSequence().entropy % 2**32)
    rng = np.random.default_rng(seed)
    cb = Codebook.default()
    eff = {**DEFAULT_EFFECTS, **(effects or {})}
    sds = {**DEFAULT_SD, **(sd or {})}
    cuts = tuple(DEFAULT_CUTPOINTS if cutpoints is None else cutpoints)
    if len(cuts) != len(cb.spectrum) - 1 or np.any(np.diff(cuts) <= 0):
        raise ValueError(f"cutpoints must be {len(cb.spectrum) - 1} increasing numbers")
    n_off = officials if officials is not None else max(missions * 4, rows // 5)
    if n_off < missions:
        raise ValueError("simulate needs at least one official per mission (its head)")

    mission_tab = _draw_missions(rng, missions, cb)
    dept_tab = _draw_departments(rng, mission_tab)
    postings = _draw_officials(rng, mission_tab, dept_tab, n_off, cb)
    frame = _draw_rows(rng, mission_tab, dept_tab, postings, rows, cb)

    group_effects = {
        "mission": _draw_group(rng, mission_tab["mission"], sds["mission"]),
        "mission:department": _draw_group(
            rng, dept_tab["mission"] + ":" + dept_tab["department"], sds["mission:department"]
        ),
        "official_id": _draw_group(
            rng, pd.Series(sorted(f"OFF{i + 1:04d}" for i in range(n_off))), sds["official_id"]
        ),
    }
    truth = _truth(cb, eff, sds, cuts, group_effects, seed, missions, rows, n_off)
    eta = linear_predictor(frame, truth, cb)
    latent = eta + rng.logistic(size=len(frame))
    columns = list(COLUMNS)
    level = np.searchsorted(np.asarray(cuts), latent)
    if category_specific:  # rows' own thresholds: the level is how many lie below
        shifts = _category_shifts(frame, category_specific, cuts, cb)
        level = (latent[:, None] > np.asarray(cuts)[None, :] - shifts).sum(axis=1)
        truth["category_specific"] = {
            var: {lv: [float(v) for v in s] for lv, s in levels.items()}
            for var, levels in category_specific.items()
        }
    if missing:  # a stream of its own: the other values stay those without blanks
        frame, truth["missing"] = _blank(np.random.default_rng([seed, 7]), frame, missing)
    if coders > 0:  # drawn last, so data without coders stay byte-identical
        frame, level = _code(
            rng,
            frame,
            level,
            truth,
            coders,
            double_coded,
            coder_sd,
            coder_spread,
            coder_spread_sd,
            len(cb.spectrum),
        )
        columns.insert(columns.index("official_id") + 1, "coder_id")
    frame["response"] = _categorical(level, cb.outcome)
    if ambiguous > 0:  # drawn last, so data without ranges stay byte-identical
        low, high = _coarsen(rng, level, len(cb.spectrum), ambiguous)
        ranged = high > low
        low_name, high_name = cb.range_columns
        frame["response"] = _categorical(np.where(ranged, -1, level), cb.outcome)
        frame[low_name] = _categorical(np.where(ranged, low, -1), cb.outcome)
        frame[high_name] = _categorical(np.where(ranged, high, -1), cb.outcome)
        columns[columns.index("response") + 1 : columns.index("response") + 1] = [
            low_name,
            high_name,
        ]
        truth["coding"] = {
            **truth.get("coding", {}),
            "ambiguous": ambiguous,
            "ranges": int(ranged.sum()),
            "note_ranges": "a range covers the drawn level; coarsened at random",
        }
    frame["source"] = _text(np.full(len(frame), f"synthetic (bayesresp.simulate, seed {seed})"))
    return Simulation(frame.loc[:, columns], truth)


def _blank(rng, frame: pd.DataFrame, shares: dict[str, float]):
    """Blank a share of each named covariate's cells, at random given the mission and an
    observed covariate (see ``simulate``'s ``missing``); returns the frame and the truth
    of what was blanked."""
    from scipy.optimize import brentq
    from scipy.special import expit

    frame = frame.copy()
    missions = pd.factorize(frame["mission"])[0]
    truth = {}
    for var, share in shares.items():
        driver = "severity" if var == "hierarchy_level" else "hierarchy_level"
        codes = frame[driver].cat.codes.to_numpy(dtype=float)
        h = (codes - codes.mean()) / (codes.std() or 1.0)
        shift = rng.normal(0.0, 0.7, missions.max() + 1)[missions]
        score = h + shift
        if share > 0:
            a = brentq(lambda a, s=score, t=share: expit(a + s).mean() - t, -30.0, 30.0)
            blank = rng.random(len(frame)) < expit(a + score)
        else:
            blank = np.zeros(len(frame), dtype=bool)
        rows = np.flatnonzero(blank)
        truth[var] = {
            "share": share,
            "cells": int(blank.sum()),
            "depends_on": ["mission", driver],
            # by response (a response coded twice lacks the cell in both its rows)
            "response_ids": frame["response_id"].astype(str).to_numpy()[rows].tolist(),
            "values": (
                frame[var].astype(str).to_numpy()[rows].tolist()
                if isinstance(frame[var].dtype, pd.CategoricalDtype)
                else frame[var].to_numpy(dtype=float)[rows].tolist()
            ),
        }
        frame[var] = frame[var].where(~blank)
    return frame, truth


def _coarsen(rng, level, K, share):
    """Ranges for a share of the rows: width 2 or 3, on a grid of that width with a
    random offset, the window holding the drawn level (clipped at the spectrum's ends,
    where it may shrink to the level itself). Every choice is independent of the level,
    so for every range the probability of coding it is the same for each level it
    covers (coarsening at random)."""
    n = len(level)
    pick = rng.random(n) < share
    width = rng.integers(2, 4, n)
    offset = (rng.random(n) * width).astype(np.int64)  # uniform in 0 .. width - 1
    start = ((level + offset) // width) * width - offset
    low = np.where(pick, np.maximum(start, 0), level)
    high = np.where(pick, np.minimum(start + width - 1, K - 1), level)
    return low, high


def _category_shifts(frame: pd.DataFrame, spec: dict, cuts, cb: Codebook) -> np.ndarray:
    """Each row's shift of each threshold, (n, K - 1), from ``category_specific``;
    checked: known covariates with levels, K - 1 shifts, thresholds still increasing."""
    K1 = len(cuts)
    out = np.zeros((len(frame), K1))
    for var, levels in spec.items():
        field_ = cb.fields.get(var)
        if field_ is None or field_.role != "covariate" or field_.categories is None:
            raise ValueError(
                f"category_specific: '{var}' is not a covariate with levels of the codebook"
            )
        for level, shift in levels.items():
            if level not in field_.categories:
                raise ValueError(
                    f"category_specific: '{level}' is not a level of {var} "
                    f"({', '.join(field_.categories)})"
                )
            shift = np.asarray(shift, dtype=float)
            if shift.shape != (K1,):
                raise ValueError(f"category_specific: {var}[{level}] needs {K1} shifts")
            if np.any(np.diff(np.asarray(cuts) - shift) <= 0):
                raise ValueError(
                    f"category_specific: {var}[{level}]'s thresholds c_k - s_k must "
                    "increase (crossed thresholds give negative probabilities)"
                )
            out[(frame[var] == level).to_numpy()] += shift
    if np.any(np.diff(np.asarray(cuts)[None, :] - out, axis=1) <= 0):
        raise ValueError(
            "category_specific: two covariates' shifts together cross a row's thresholds"
        )
    return out


def _code(rng, frame, level, truth, coders, double_coded, coder_sd, spread, spread_sd, K):
    """Assign coders, draw each code as the coder's reading of the response's true level
    (:func:`bayesresp.maths.rater.log_reading`), and duplicate double-coded rows."""
    from bayesresp.maths.rater import log_reading

    if double_coded > 0 and coders < 2:
        raise ValueError("double coding needs at least two coders")
    if coder_sd < 0 or spread <= 0 or spread_sd < 0:
        raise ValueError("coder_sd and coder_spread_sd must be >= 0, coder_spread > 0")
    names = [f"CODER{i + 1:02d}" for i in range(coders)]
    # relative to the average coder (they sum to zero), as the model of coders reads them
    leniency = rng.normal(0.0, coder_sd, coders)
    leniency = leniency - leniency.mean()
    spreads = spread * np.exp(rng.normal(0.0, spread_sd, coders))
    n = len(frame)
    first = rng.integers(0, coders, n)
    twice = np.flatnonzero(rng.random(n) < double_coded) if double_coded > 0 else np.array([], int)
    second = (first[twice] + rng.integers(1, max(coders, 2), twice.size)) % coders
    coded = frame.assign(coder_id=_text(np.array(names)[first]))
    again = frame.iloc[twice].assign(coder_id=_text(np.array(names)[second]))
    who = np.concatenate([first, second])
    true = np.concatenate([level, level[twice]])
    reading = np.exp(log_reading(leniency, spreads, K))[who, true]  # (codes, K)
    written = (rng.random(who.size)[:, None] > np.cumsum(reading, axis=1)).sum(axis=1)
    written = np.minimum(written, K - 1)  # a cumulative sum a rounding short of one
    order = np.argsort(np.concatenate([np.arange(n), twice]), kind="stable")
    out = pd.concat([coded, again], ignore_index=True).iloc[order].reset_index(drop=True)
    truth["coders"] = {
        name: {"leniency": float(leniency[i]), "spread": float(spreads[i])}
        for i, name in enumerate(names)
    }
    truth["coding"] = {
        "coders": coders,
        "double_coded": double_coded,
        "leniency_sd": coder_sd,
        "spread_median": spread,
        "spread_sd": spread_sd,
        "true_level": true[order].tolist(),
        "note": "code = a coder's reading of the true level (hierarchical rater model)",
    }
    return out, written[order]


def linear_predictor(frame: pd.DataFrame, truth: dict[str, Any], cb: Codebook) -> np.ndarray:
    """The true latent predictor ``eta`` of each row, from a truth dict, through the
    model's own linear predictor (:func:`bayesresp.maths.predictor.linear_predictor`): a
    column per true coefficient (the covariate, or the indicator of its level) and an
    intercept per grouping level.

    Group effects of groups the truth does not know count as zero.
    """
    names = list(truth["coefficients"])
    X = np.zeros((len(frame), len(names)))
    for j, name in enumerate(names):
        col, level = name.split("[") if "[" in name else (name, None)
        if level is None:
            X[:, j] = frame[col].astype(float).to_numpy()
        else:
            X[:, j] = _is_level(frame[col], level.rstrip("]"))
    b = np.array([truth["coefficients"][name] for name in names], dtype=float)
    groups = []
    for key, cols in (
        ("mission", ["mission"]),
        ("mission:department", ["mission", "department"]),
        ("official_id", ["official_id"]),
    ):
        if any(c not in frame for c in cols):
            continue
        effects = _lookup([frame[c] for c in cols], truth["group_effects"][key])
        groups.append((np.ones((len(frame), 1)), effects[:, None]))
    eta = predictor.linear_predictor(X, b if names else None, groups=groups)
    return np.zeros(len(frame)) + eta  # a plain 0.0 when there is nothing to add


def _is_level(column: pd.Series, level: str) -> np.ndarray:
    """Whether each value equals ``level`` (as ``column.astype(object) == level``), for a
    categorical column from its codes."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        cats = column.cat.categories
        hit = cats.astype(object) == level
        return hit[column.cat.codes.to_numpy()] & (column.cat.codes.to_numpy() >= 0)
    return (column.astype(object) == level).to_numpy()


def _lookup(columns: list[pd.Series], table: dict[str, float]) -> np.ndarray:
    """``table`` at each row's label (the columns as text, joined by ``:``), 0.0 where the
    table has none: ``labels.astype(str).map(table).fillna(0.0)``, looked up once per
    distinct label instead of once per row."""
    if any(column.isna().any() for column in columns):  # rare: keep the plain recipe
        labels = columns[0].astype(str)
        for column in columns[1:]:
            labels = labels + ":" + column.astype(str)
        return labels.map(table).fillna(0.0).to_numpy(dtype=float)
    key = np.zeros(len(columns[0]), dtype=np.int64)
    texts = []
    for column in columns:
        codes, uniques = pd.factorize(column)
        texts.append(pd.Series(uniques).astype(str).to_numpy(dtype=object))
        key = key * len(uniques) + codes
    row_of, used = pd.factorize(key)
    parts, rest = [], used
    for text in reversed(texts):
        parts.insert(0, text[rest % len(text)])
        rest = rest // len(text)
    labels = parts[0]
    for part in parts[1:]:
        labels = labels + ":" + part
    values = pd.Series(labels, dtype=object).map(table).fillna(0.0)
    return values.to_numpy(dtype=float)[row_of]


# -- the pieces ------------------------------------------------------------------------
# The draws below are made in the order the simulator has always made them (one
# official, then one incident, at a time), so a seed gives the same data as before; the
# loops stay in Python, but each step is a few arithmetic operations on numbers drawn in
# bulk, and every table is built column by column once the loops are done.
def _choice(rng: np.random.Generator, options, weights, size=None):
    w = np.asarray(weights, dtype=float)
    return rng.choice(np.asarray(options, dtype=object), size=size, p=w / w.sum())


def _cdf(weights) -> list[float]:
    """The cumulative probabilities ``rng.choice(..., p=w / w.sum())`` searches: the
    index it draws for the uniform ``u`` is ``bisect_right(cdf, u)``."""
    w = np.asarray(weights, dtype=float)
    cdf = np.cumsum(w / w.sum())
    cdf /= cdf[-1]
    return cdf.tolist()


def _text(values, rows: np.ndarray | None = None) -> pd.api.extensions.ExtensionArray:
    """A text column, typed as :func:`bayesresp.validate` types text: ``values``, or
    ``values[rows]`` (gathered by Arrow, without a Python string per row)."""
    if rows is None and not isinstance(values, pa.Array):
        return pd.array(np.asarray(values, dtype=object), dtype="string")
    if not isinstance(values, pa.Array):
        values = pa.array(list(values), type=pa.string())
    return pd.array(values if rows is None else values.take(pa.array(rows)), dtype="string")


def _numbered(prefix, numbers: np.ndarray, width: int) -> pa.Array:
    """``f"{prefix}{n:0{width}d}"`` for every ``n >= 0`` of ``numbers`` (``prefix`` one
    text, or an Arrow text array as long as ``numbers``), made by Arrow."""
    digits = pc.utf8_lpad(pa.array(numbers).cast(pa.string()), width=width, padding="0")
    return pc.binary_join_element_wise(prefix, digits, "")


def _categorical(codes, field) -> pd.Categorical:
    """A coded column, typed as :func:`bayesresp.validate` types the field."""
    dtype = pd.CategoricalDtype(list(field.categories), ordered=field.ordered)
    return pd.Categorical.from_codes(np.asarray(codes), dtype=dtype)


#: Words the incident loop reads from the generator at a time (see :class:`_Words`).
_WORDS_PER_CHUNK = 1 << 16
#: Mean number of officials responding to an incident besides the first.
_EXTRA_RESPONDERS = 1.2
#: The incident loop reads an incident straight from the buffered words when its
#: Poisson count is at most this (else it takes the step-by-step methods).
_FAST_POISSON_MAX = 32


class _Words:
    """The random generator's draws, read from its raw 64-bit words as numpy reads them.

    numpy's default generator (PCG64) makes a uniform ``rng.random()`` of one word,
    ``(word >> 11) * 2**-53``, and a 32-bit number of half a word, the low half first
    and the high half kept for the next 32-bit draw; ``rng.integers(0, n)`` is Lemire's
    method on 32-bit numbers, ``rng.poisson(lam)`` (``lam < 10``) multiplies uniforms
    until the product falls to ``exp(-lam)``, and ``rng.choice(n, k, replace=False, p=p)``
    searches ``k`` uniforms in the cumulative ``p``. Reading words in chunks gives the
    same numbers, in the same order, as those calls one at a time, for a fraction of
    their cost; :meth:`close` then leaves the generator exactly where the calls would
    have. With ``lazy=True`` a word is taken only when it is needed, so these draws can
    be mixed with the generator's own calls (``rng.gamma``).
    """

    def __init__(self, rng: np.random.Generator, chunk: int | None = None, lazy: bool = False):
        self.bitgen = rng.bit_generator
        if not isinstance(self.bitgen, np.random.PCG64):
            raise TypeError("the simulator reads the draws of numpy's PCG64 generator")
        self.start = self.bitgen.state
        self.has32 = bool(self.start["has_uint32"])
        self.half = int(self.start["uinteger"])
        self.lazy = lazy
        self.chunk = 1 if lazy else (chunk or _WORDS_PER_CHUNK)
        self.words: list[int] = []
        self.doubles: list[float] = []
        self.pos = 0  # the next word to read
        self.dropped = 0  # words read and dropped from the lists
        self.drawn = 0  # words taken from the generator

    def refill(self, need: int) -> None:
        """Make ``need`` words available from :attr:`pos`."""
        if self.pos + need <= len(self.words):
            return
        raw = self.bitgen.random_raw(max(self.chunk, need - (len(self.words) - self.pos)))
        self.drawn += len(raw)
        self.dropped += self.pos
        self.words = self.words[self.pos :] + raw.tolist()
        self.doubles = self.doubles[self.pos :] + ((raw >> 11) * 2.0**-53).tolist()
        self.pos = 0

    def random(self, k: int) -> list[float]:
        """``rng.random(k).tolist()``."""
        self.refill(k)
        out = self.doubles[self.pos : self.pos + k]
        self.pos += k
        return out

    def u32(self) -> int:
        """numpy's next 32-bit draw."""
        if self.has32:
            self.has32 = False
            return self.half
        if self.lazy:  # no word is read ahead: take this one from the generator
            word = self.bitgen.random_raw()
            self.drawn += 1
            self.dropped += 1
        else:
            self.refill(1)
            word = self.words[self.pos]
            self.pos += 1
        self.has32, self.half = True, word >> 32
        return word & 0xFFFFFFFF

    def below(self, n: int) -> int:
        """``int(rng.integers(0, n))``, for ``n <= 2**32``."""
        span = n - 1
        if span == 0:
            return 0
        if span == 0xFFFFFFFF:
            return self.u32()
        if span > 0xFFFFFFFF:
            raise ValueError("a range of more than 2**32 integers")
        m = self.u32() * n
        if m & 0xFFFFFFFF < n:
            threshold = (0xFFFFFFFF - span) % n
            while m & 0xFFFFFFFF < threshold:
                m = self.u32() * n
        return m >> 32

    def poisson(self, exp_minus_lam: float) -> int:
        """``rng.poisson(lam)`` for ``lam < 10``, given ``math.exp(-lam)``."""
        k, prod = 0, 1.0
        while True:
            self.refill(1)
            prod *= self.doubles[self.pos]
            self.pos += 1
            if prod > exp_minus_lam:
                k += 1
            else:
                return k

    def choice(self, cdf: list[float], p: np.ndarray, size: int) -> list[int]:
        """``rng.choice(len(p), size, replace=False, p=p).tolist()``, given ``cdf``, the
        cumulative ``p`` as numpy computes it (:func:`_cdf`)."""
        found = [bisect_right(cdf, u) for u in self.random(size)]
        if size == 1 or len(set(found)) == size:
            return found
        # One drawn twice: numpy keeps the first of each and draws the missing ones
        # again, with those already chosen left out.
        found = list(dict.fromkeys(found))
        q = p.copy()
        while len(found) < size:
            u = np.array(self.random(size - len(found)))
            q[found] = 0
            c = np.cumsum(q)
            c /= c[-1]
            found.extend(dict.fromkeys(c.searchsorted(u, side="right").tolist()))
        return found

    def close(self) -> None:
        """Leave the generator where numpy's own calls would have left it."""
        used = self.dropped + self.pos
        if used != self.drawn:
            self.bitgen.state = self.start
            self.bitgen.random_raw(used, output=False)
        state = self.bitgen.state
        state["has_uint32"], state["uinteger"] = int(self.has32), self.half
        self.bitgen.state = state


def _draw_missions(rng: np.random.Generator, n: int, cb: Codebook) -> pd.DataFrame:
    names, starts, ends = [], [], []
    for i in range(n):
        if i < len(MISSIONS):
            name, start, end = MISSIONS[i]
        else:
            name, start = f"MISSION_{i + 1:02d}", 1990 + (7 * i) % 30
            end = start + 6
        names.append(name)
        starts.append(start)
        ends.append(end)
    lev = cb.field("host_consent_leverage").categories
    phase = cb.field("mission_phase").categories
    return pd.DataFrame(
        {
            "mission": names,
            "start": starts,
            "end": ends,
            "host_consent_leverage": _choice(rng, lev, (0.25, 0.4, 0.35), n),
            "mission_phase": _choice(rng, phase, (0.2, 0.55, 0.25), n),
            "weight": rng.gamma(4.0, 1.0, n),  # how many incidents each mission yields
        }
    )


def _draw_departments(rng: np.random.Generator, missions: pd.DataFrame) -> pd.DataFrame:
    others = [d for d in DEPARTMENTS if d not in _CORE_DEPARTMENTS]
    links = ("none", "integrated_reporting_line", "independent_structure")
    cb = Codebook.default()
    recs = []
    for mission in missions["mission"]:
        extra = rng.choice(others, size=int(rng.integers(1, 4)), replace=False)
        for dept in (*_CORE_DEPARTMENTS, *sorted(extra)):
            t = DEPARTMENTS[dept]
            recs.append(
                {
                    "mission": mission,
                    "department": dept,
                    "politicization": _typical(rng, t["pol"], cb, "politicization"),
                    "professional_composition": _typical(
                        rng, t["comp"], cb, "professional_composition"
                    ),
                    "interlocutor": _typical(rng, t["inter"], cb, "interlocutor"),
                    "external_link": _choice(rng, links, t["link"]),
                }
            )
    return pd.DataFrame(recs)


def _typical(rng: np.random.Generator, modal: str, cb: Codebook, name: str) -> str:
    """A department's trait: its kind's typical value, or in context another (30%)."""
    if rng.random() < 0.7:
        return modal
    return str(rng.choice([lv for lv in cb.field(name).categories if lv != modal]))


def _draw_officials(
    rng: np.random.Generator,
    missions: pd.DataFrame,
    depts: pd.DataFrame,
    n_officials: int,
    cb: Codebook,
) -> pd.DataFrame:
    """One row per posting (an official in a department of a mission): the official's
    number, the rows of ``missions`` and ``depts`` it is in, and the codebook codes of
    its levels. One official at a time, in the generator's order:

    * the mission (by weight), a department of it (uniformly) and a level, except that
      the first official of each mission is its head, in the SRSG's office;
    * background (by the department's mix), nationality group, career security, years at
      the station (gamma) and duty location (heads are at the capital);
    * with probability 0.15 a second posting, in another mission (same background and
      nationality; its own department, level, career security, years and location).
    """
    levels = cb.field("hierarchy_level").categories
    head = levels.index("head_of_mission")
    bg_code = [cb.field("background").categories.index(b) for b in _BACKGROUNDS]
    n_missions = len(missions)
    mission_cdf = _cdf(missions["weight"].to_numpy())
    # Each mission's departments (rows of `depts`) and their mixes of backgrounds.
    row_of = {m: i for i, m in enumerate(missions["mission"])}
    dept_rows: list[list[int]] = [[] for _ in range(n_missions)]
    for r, m in enumerate(depts["mission"]):
        dept_rows[row_of[m]].append(r)
    bg_cdf = [_cdf(DEPARTMENTS[d]["bg"]) for d in depts["department"]]
    srsg = [
        next(r for r in rows if depts["department"].iat[r] == "Office of the SRSG")
        for rows in dept_rows
    ]
    level_cdf, level2_cdf = _cdf((0.62, 0.26, 0.12)), _cdf((0.5, 0.35, 0.15))
    nat_cdf, career_cdf = _cdf((0.45, 0.55)), _cdf((0.35, 0.45, 0.2))
    duty_cdf = _cdf((0.62, 0.32, 0.06))

    random, gamma, bits = rng.random, rng.gamma, _Words(rng, lazy=True)
    posts: list[tuple] = []
    for i in range(n_officials):
        if i < n_missions:  # one head of mission per mission, in the SRSG's office
            mission, dept, level = i, srsg[i], head
            u_bg, u_nat, u_career = random(3).tolist()
        else:
            mission = bisect_right(mission_cdf, random())
            rows = dept_rows[mission]
            dept = rows[bits.below(len(rows))]
            u_level, u_bg, u_nat, u_career = random(4).tolist()
            level = bisect_right(level_cdf, u_level)
        bg = bg_code[bisect_right(bg_cdf[dept], u_bg)]
        nat = bisect_right(nat_cdf, u_nat)
        years = float(min(30.0, round(gamma(2.0, 1.8), 1)))
        if i < n_missions:
            posts.append(
                (i, mission, dept, level, bg, nat, bisect_right(career_cdf, u_career), years, 0)
            )
            continue
        u_duty, coin = random(2).tolist() if n_missions > 1 else (random(), 1.0)
        duty = bisect_right(duty_cdf, u_duty)
        posts.append(
            (i, mission, dept, level, bg, nat, bisect_right(career_cdf, u_career), years, duty)
        )
        # Some officials also served in another mission (careers cross missions).
        if coin < 0.15:
            other = bits.below(n_missions - 1)
            other += other >= mission
            rows = dept_rows[other]
            dept = rows[bits.below(len(rows))]
            u_level, u_career = random(2).tolist()
            years = float(min(30.0, round(gamma(2.0, 1.8), 1)))
            duty = bisect_right(duty_cdf, random())
            level = bisect_right(level2_cdf, u_level)
            posts.append(
                (i, other, dept, level, bg, nat, bisect_right(career_cdf, u_career), years, duty)
            )
    bits.close()
    names = ("official", "mission", "dept", "hierarchy_level", "background", "nationality_group")
    names += ("career_security", "years_at_station", "duty_location")
    columns = list(zip(*posts, strict=True))
    return pd.DataFrame(
        {
            name: np.array(col, dtype=float if name == "years_at_station" else np.int64)
            for name, col in zip(names, columns, strict=True)
        }
    )


def _draw_incidents(
    rng: np.random.Generator,
    per_mission: list[int],
    weights: list[np.ndarray],
    years: list[tuple[int, int]],
    vt_cdf: list[float],
    sev_cdf: list[float],
) -> tuple[list[int], np.ndarray, np.ndarray]:
    """Each mission's incidents, until it has its number of rows, in the generator's
    order: the number of officials who respond (``1 + rng.poisson(1.2)``, at most the
    rows left and the staff), which ones (``rng.choice`` by ``weights``, without
    replacement), the year (``rng.integers(start, end + 1)``), the violation type and the
    severity (a uniform each, searched in ``vt_cdf`` and ``sev_cdf``).

    Returns the incidents, five numbers each (mission, number within the mission, year,
    violation type and severity codes), and, for every row, its incident and its
    official's position in the mission's staff.
    """
    words = _Words(rng)
    exp_minus_lam = math.exp(-_EXTRA_RESPONDERS)
    bisect, ahead = bisect_right, 2 * _FAST_POISSON_MAX + 8  # words an incident may read
    incidents: list[int] = []  # five numbers an incident
    sizes: list[int] = []  # its number of rows
    row_staff: list[int] = []
    for m, (n_m, w, (start, end)) in enumerate(zip(per_mission, weights, years, strict=True)):
        p = w / w.sum()
        cdf = _cdf(w)
        n_staff, n_years = len(p), end + 1 - start
        done = k = 0
        while done < n_m:
            k += 1
            # The usual incident, read straight from the buffered words. Anything unusual
            # (a long Poisson run, an official drawn twice, a rejected integer) is left to
            # the step-by-step methods, from the same word.
            pos, d = words.pos, words.doubles
            if pos + ahead > len(d):
                words.refill(ahead)
                pos, d = words.pos, words.doubles
            prod, extra = d[pos], 0
            pos += 1
            while prod > exp_minus_lam and extra < _FAST_POISSON_MAX:
                prod *= d[pos]
                pos += 1
                extra += 1
            fast = prod <= exp_minus_lam
            if fast:
                size = min(n_m - done, n_staff, 1 + extra)
                if size == 1:
                    who = [bisect(cdf, d[pos])]
                else:
                    who = [bisect(cdf, u) for u in d[pos : pos + size]]
                    fast = len(set(who)) == size
                pos += size
            year, has32, half = start, words.has32, words.half
            if fast and n_years > 1:
                if has32:
                    u32, has32 = half, False
                else:
                    word = words.words[pos]
                    pos += 1
                    u32, has32, half = word & 0xFFFFFFFF, True, word >> 32
                m32 = u32 * n_years
                fast = m32 & 0xFFFFFFFF >= n_years  # else Lemire's method may reject it
                year += m32 >> 32
            if fast:
                u_vt, u_sev = d[pos], d[pos + 1]
                words.pos, words.has32, words.half = pos + 2, has32, half
            else:
                size = min(n_m - done, n_staff, 1 + words.poisson(exp_minus_lam))
                who = words.choice(cdf, p, size)
                year = start + words.below(n_years)
                u_vt, u_sev = words.random(2)
            sizes.append(size)
            row_staff.extend(who)
            incidents += (m, k, year, bisect(vt_cdf, u_vt), bisect(sev_cdf, u_sev))
            done += size
    words.close()
    row_incident = np.repeat(np.arange(len(sizes)), sizes)
    return incidents, row_incident, np.array(row_staff, dtype=np.int64)


def _draw_rows(
    rng: np.random.Generator,
    missions: pd.DataFrame,
    depts: pd.DataFrame,
    postings: pd.DataFrame,
    n_rows: int,
    cb: Codebook,
) -> pd.DataFrame:
    """The rows: incidents and their responders (:func:`_draw_incidents`), with the
    officials', departments' and missions' traits, typed as :func:`bayesresp.validate`
    types them (all but ``response`` and ``source``)."""
    field = cb.field
    # Rows per mission: at least one each, the rest in proportion to mission weights.
    p = missions["weight"].to_numpy() / missions["weight"].sum()
    per_mission = 1 + rng.multinomial(n_rows - len(missions), p)
    # Each mission's staff: its postings, in the order they were drawn.
    post_mission = postings["mission"].to_numpy()
    by_mission = np.argsort(post_mission, kind="stable")
    bounds = np.searchsorted(post_mission[by_mission], np.arange(len(missions) + 1))
    staff = [by_mission[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    head = field("hierarchy_level").categories.index("head_of_mission")
    level = postings["hierarchy_level"].to_numpy()
    incidents, row_incident, row_staff = _draw_incidents(
        rng,
        per_mission.tolist(),
        [np.where(level[s] == head, 4.0, 1.0) for s in staff],
        list(zip(missions["start"].tolist(), missions["end"].tolist(), strict=True)),
        _cdf((0.35, 0.15, 0.2, 0.12, 0.1, 0.08)),
        _cdf((0.25, 0.35, 0.28, 0.12)),
    )
    # Each row's posting, and the incident's, posting's, department's and mission's
    # traits gathered column by column.
    inc = np.array(incidents, dtype=np.int64).reshape(-1, 5)
    post = by_mission[bounds[inc[row_incident, 0]] + row_staff]
    dept = postings["dept"].to_numpy()[post]
    mission = post_mission[post]
    names = pa.array(missions["mission"].tolist(), type=pa.string())
    mission_of = pc.binary_join_element_wise(names.take(inc[:, 0]), "-I", "")
    incident_ids = _numbered(mission_of, inc[:, 1], 3)
    officials = _numbered("OFF", np.arange(1, postings["official"].max() + 2), 4)

    def coded(table: pd.DataFrame, name: str, rows: np.ndarray) -> pd.Categorical:
        codes = pd.Categorical(table[name], categories=field(name).categories).codes
        return _categorical(codes[rows], field(name))

    def posting(name: str) -> pd.Categorical:
        return _categorical(postings[name].to_numpy()[post], field(name))

    return pd.DataFrame(
        {
            "response_id": _text(_numbered("R", np.arange(1, len(post) + 1), 5)),
            "incident_id": _text(incident_ids, row_incident),
            "year": pd.array(inc[row_incident, 2], dtype="Int64"),
            "mission": _text(names, mission),
            "department": _text(depts["department"], dept),
            "official_id": _text(officials, postings["official"].to_numpy()[post]),
            "violation_type": _categorical(inc[row_incident, 3], field("violation_type")),
            "severity": _categorical(inc[row_incident, 4], field("severity")),
            "background": posting("background"),
            "nationality_group": posting("nationality_group"),
            "career_security": posting("career_security"),
            "years_at_station": postings["years_at_station"].to_numpy()[post],
            "politicization": coded(depts, "politicization", dept),
            "professional_composition": coded(depts, "professional_composition", dept),
            "interlocutor": coded(depts, "interlocutor", dept),
            "hierarchy_level": posting("hierarchy_level"),
            "external_link": coded(depts, "external_link", dept),
            "duty_location": posting("duty_location"),
            "host_consent_leverage": coded(missions, "host_consent_leverage", mission),
            "mission_phase": coded(missions, "mission_phase", mission),
        }
    )


def _draw_group(rng: np.random.Generator, labels: pd.Series, sd: float) -> dict[str, float]:
    labels = list(pd.Series(labels).astype(str))
    draws = rng.normal(0.0, sd, len(labels))
    return {lab: round(float(x), 6) for lab, x in zip(labels, draws, strict=True)}


def _truth(cb, eff, sds, cuts, group_effects, seed, missions, rows, officials) -> dict:
    """The truth dict: every effect in treatment coding, plus the monotonic form."""
    coefficients: dict[str, float] = {}
    monotonic: dict[str, Any] = {}
    for f in cb.covariates:
        e = eff.get(f.name)
        if e is None:
            continue
        if f.kind == "continuous":
            coefficients[f.name] = float(e)
        elif isinstance(e, dict) and "total" in e:
            simplex = np.asarray(e["simplex"], dtype=float)
            if len(simplex) != len(f.categories) - 1 or not np.isclose(simplex.sum(), 1.0):
                raise ValueError(f"simplex of '{f.name}' must sum to one over the steps")
            monotonic[f.name] = {
                "total": float(e["total"]),
                "simplex": dict(zip(f.categories[1:], simplex.tolist(), strict=True)),
            }
            for level, cum in zip(f.categories[1:], np.cumsum(simplex), strict=True):
                coefficients[f"{f.name}[{level}]"] = round(float(e["total"] * cum), 10)
        else:
            for level in f.categories[1:]:
                coefficients[f"{f.name}[{level}]"] = float(e.get(level, 0.0))
    spectrum = cb.spectrum
    return {
        "synthetic": True,
        "generator": "bayesresp.simulate",
        "seed": seed,
        "settings": {"missions": missions, "rows": rows, "officials": officials},
        "link": "logit",
        "sign_convention": "P(response <= k) = logistic(cutpoint_k - eta); + is towards "
        "confrontation",
        "cutpoints": {
            f"{lo}|{hi}": c for lo, hi, c in zip(spectrum[:-1], spectrum[1:], cuts, strict=True)
        },
        "coefficients": coefficients,
        "monotonic": monotonic,
        "units": {"years_at_station": "per year, on the raw scale"},
        "sd": dict(sds),
        "group_effects": group_effects,
    }
