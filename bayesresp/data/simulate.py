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
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

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
    coder_noise: float = 0.3,
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
        Number of officials; ``rows // 5`` by default, so officials appear in several
        rows.
    effects, sd, cutpoints : optional
        Replace the defaults (:data:`DEFAULT_EFFECTS`, :data:`DEFAULT_SD`,
        :data:`DEFAULT_CUTPOINTS`); ``effects`` is merged key by key.
    coders : int
        With coders, each response is coded by one of them (``coder_id``): the coded
        level is that of the latent propensity plus the coder's leniency (normal, sd
        ``coder_sd``) plus a misreading (normal, sd ``coder_noise``).
    double_coded : float
        Share of responses coded a second time, by another coder (a second row with the
        same ``response_id``), for reliability studies.

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
            rng, pd.Series(sorted(postings["official_id"].unique())), sds["official_id"]
        ),
    }
    truth = _truth(cb, eff, sds, cuts, group_effects, seed, missions, rows, n_off)
    eta = linear_predictor(frame, truth, cb)
    latent = eta + rng.logistic(size=len(frame))
    columns = list(COLUMNS)
    if coders > 0:  # drawn last, so data without coders stay byte-identical
        frame, latent = _code(
            rng, frame, latent, truth, coders, double_coded, coder_sd, coder_noise
        )
        columns.insert(columns.index("official_id") + 1, "coder_id")
    frame["response"] = np.searchsorted(np.asarray(cuts), latent)
    frame["response"] = [cb.spectrum[k] for k in frame["response"]]
    frame["source"] = f"synthetic (bayesresp.simulate, seed {seed})"
    frame = frame.loc[:, columns]

    from bayesresp.data.validation import validate

    return Simulation(validate(frame, cb), truth)


def _code(rng, frame, latent, truth, coders, double_coded, coder_sd, noise):
    """Assign coders, add their leniency and misreadings, and duplicate double-coded rows."""
    if double_coded > 0 and coders < 2:
        raise ValueError("double coding needs at least two coders")
    names = pd.Series([f"CODER{i + 1:02d}" for i in range(coders)])
    effects = _draw_group(rng, names, coder_sd)
    u = np.array([effects[n] for n in names])
    n = len(frame)
    first = rng.integers(0, coders, n)
    twice = np.flatnonzero(rng.random(n) < double_coded) if double_coded > 0 else np.array([], int)
    second = (first[twice] + rng.integers(1, max(coders, 2), twice.size)) % coders
    coded = frame.assign(coder_id=names.to_numpy()[first])
    again = frame.iloc[twice].assign(coder_id=names.to_numpy()[second])
    lat = np.concatenate(
        [
            latent + u[first] + rng.normal(0, noise, n),
            latent[twice] + u[second] + rng.normal(0, noise, twice.size),
        ]
    )
    order = np.argsort(np.concatenate([np.arange(n), twice]), kind="stable")
    out = pd.concat([coded, again], ignore_index=True).iloc[order].reset_index(drop=True)
    truth["sd"]["coder_id"] = coder_sd
    truth["group_effects"]["coder_id"] = effects
    truth["coding"] = {
        "coders": coders,
        "double_coded": double_coded,
        "misreading_sd": noise,
        "note": "coded level = level of (latent + leniency + misreading)",
    }
    return out, lat[order]


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
            X[:, j] = (frame[col].astype(object) == level.rstrip("]")).to_numpy()
    b = np.array([truth["coefficients"][name] for name in names], dtype=float)
    mission = frame["mission"].astype(str)
    dept = mission + ":" + frame["department"].astype(str)
    groups = []
    for key, labels in (
        ("mission", mission),
        ("mission:department", dept),
        ("official_id", frame.get("official_id")),
    ):
        if labels is None:
            continue
        effects = labels.astype(str).map(truth["group_effects"][key]).fillna(0.0)
        groups.append((np.ones((len(frame), 1)), effects.to_numpy(dtype=float)[:, None]))
    eta = predictor.linear_predictor(X, b if names else None, groups=groups)
    return np.zeros(len(frame)) + eta  # a plain 0.0 when there is nothing to add


# -- the pieces ------------------------------------------------------------------------
def _choice(rng: np.random.Generator, options, weights, size=None):
    w = np.asarray(weights, dtype=float)
    return rng.choice(np.asarray(options, dtype=object), size=size, p=w / w.sum())


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
    """One row per posting (an official in a department of a mission)."""
    nat = cb.field("nationality_group").categories
    career = cb.field("career_security").categories
    where = cb.field("duty_location").categories
    levels = cb.field("hierarchy_level").categories
    recs = []

    def posting(oid, mission, dept, level, background, nationality):
        capital_only = level == "head_of_mission"
        recs.append(
            {
                "official_id": oid,
                "mission": mission,
                "department": dept,
                "hierarchy_level": level,
                "background": background,
                "nationality_group": nationality,
                "career_security": _choice(rng, career, (0.35, 0.45, 0.2)),
                "years_at_station": float(min(30.0, round(rng.gamma(2.0, 1.8), 1))),
                "duty_location": where[0]
                if capital_only
                else _choice(rng, where, (0.62, 0.32, 0.06)),
            }
        )

    n_missions = len(missions)
    mission_p = missions["weight"].to_numpy() / missions["weight"].sum()
    names = missions["mission"].to_numpy()
    # Each mission's departments, looked up once (the random stream is unchanged).
    dept_of = {m: depts.loc[depts["mission"] == m, "department"].to_numpy() for m in names}
    for i in range(n_officials):
        oid = f"OFF{i + 1:04d}"
        if i < n_missions:  # one head of mission per mission, in the SRSG's office
            mission, dept, level = names[i], "Office of the SRSG", levels[3]
        else:
            mission = names[rng.choice(n_missions, p=mission_p)]
            dept = rng.choice(dept_of[mission])
            level = _choice(rng, levels[:3], (0.62, 0.26, 0.12))
        bg = _choice(rng, _BACKGROUNDS, DEPARTMENTS[dept]["bg"])
        nationality = _choice(rng, nat, (0.45, 0.55))
        posting(oid, mission, dept, level, bg, nationality)
        # Some officials also served in another mission (careers cross missions).
        if i >= n_missions and n_missions > 1 and rng.random() < 0.15:
            other = rng.choice(names[names != mission])
            dept2 = rng.choice(dept_of[other])
            posting(oid, other, dept2, _choice(rng, levels[:3], (0.5, 0.35, 0.15)), bg, nationality)
    return pd.DataFrame(recs)


def _draw_rows(
    rng: np.random.Generator,
    missions: pd.DataFrame,
    depts: pd.DataFrame,
    postings: pd.DataFrame,
    n_rows: int,
    cb: Codebook,
) -> pd.DataFrame:
    vtypes = cb.field("violation_type").categories
    sev = cb.field("severity").categories
    # Rows per mission: at least one each, the rest in proportion to mission weights.
    p = missions["weight"].to_numpy() / missions["weight"].sum()
    per_mission = 1 + rng.multinomial(n_rows - len(missions), p)
    recs = []
    for (_, m), n_m in zip(missions.iterrows(), per_mission, strict=True):
        staff = postings.loc[postings["mission"] == m["mission"]].reset_index(drop=True)
        staff_rows = staff.to_dict("records")  # one dict per posting, made once
        w = np.where(staff["hierarchy_level"] == "head_of_mission", 4.0, 1.0)
        done, k = 0, 0
        while done < n_m:
            k += 1
            size = int(min(n_m - done, len(staff), 1 + rng.poisson(1.2)))
            who = rng.choice(len(staff), size=size, replace=False, p=w / w.sum())
            incident = {
                "incident_id": f"{m['mission']}-I{k:03d}",
                "year": int(rng.integers(m["start"], m["end"] + 1)),
                "violation_type": _choice(rng, vtypes, (0.35, 0.15, 0.2, 0.12, 0.1, 0.08)),
                "severity": _choice(rng, sev, (0.25, 0.35, 0.28, 0.12)),
            }
            for j in who:
                recs.append({**incident, **staff_rows[j]})
            done += size
    frame = pd.DataFrame(recs)
    frame = frame.merge(depts, on=["mission", "department"], how="left", validate="m:1")
    frame = frame.merge(
        missions[["mission", "host_consent_leverage", "mission_phase"]],
        on="mission",
        how="left",
        validate="m:1",
    )
    frame.insert(0, "response_id", [f"R{i + 1:05d}" for i in range(len(frame))])
    return frame


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
