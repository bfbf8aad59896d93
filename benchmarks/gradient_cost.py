"""The kernel's cost per gradient, link against link, on real data.

Run: .venv/bin/python benchmarks/gradient_cost.py [--readme]

``lme4::VerbAgg`` (7,584 answers, 316 respondents; compressed to 5,232 rows as a fit
compresses them) with ``resp ~ Anger + Gender + btype + situ + mode + (1 | id)``, not
centred: the log density and gradient through the compiled kernel
(:func:`bayesresp.inference.kernel.evaluate`) at 50 random points, 20 times each, best
of five rounds, per link, as a ratio to the logit link's in the same run. Sampling time
is this cost times the leapfrog steps, so the ratio is what a link costs a fit that
mixes as well. ``--readme`` writes the table between the markers in
benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import numpy as np
from _readme import publish  # benchmarks/_readme.py, beside this script
from real_data import verbagg

BEGIN, END = "<!-- gradient-cost:begin -->", "<!-- gradient-cost:end -->"
FORMULA = "resp ~ Anger + Gender + btype + situ + mode + (1 | id)"
LINKS = ("logit", "probit", "cloglog", "cauchit")


def seconds_per_gradient(link: str, frame) -> tuple[int, float]:
    from bayesresp.inference import fitting, kernel, packing
    from bayesresp.model.design import compress, make_design
    from bayesresp.model.spec import ModelSpec

    spec = dataclasses.replace(ModelSpec.coerce(FORMULA), link=link)
    data, codebook = fitting.prepare_data(frame, spec, None)
    design, _ = compress(make_design(data, spec.parsed, codebook, blocks=spec.blocks))
    packed = packing.pack(design, {}, link, centring=False)
    rng = np.random.default_rng(0)
    points = [rng.normal(0.0, 0.3, packed.n_dim) for _ in range(50)]
    kernel.evaluate(packed, points[0])  # compiled or loaded from the cache
    rounds = []
    for _ in range(5):
        start = time.perf_counter()
        for x in points:
            for _ in range(20):
                kernel.evaluate(packed, x)
        rounds.append((time.perf_counter() - start) / (20 * len(points)))
    return design.n, min(rounds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readme", action="store_true", help="write the table into README.md")
    args = parser.parse_args()
    frame = verbagg()
    cost = {link: seconds_per_gradient(link, frame) for link in LINKS}
    rows, logit = cost["logit"][0], cost["logit"][1]
    lines = [
        f"Measured {time.strftime('%Y-%m-%d')}: VerbAgg, {rows:,} compressed rows.",
        "",
        "| link | microseconds per gradient | ns per row | against logit |",
        "|---|---:|---:|---:|",
    ]
    for link, (n, s) in cost.items():
        lines.append(f"| {link} | {s * 1e6:.1f} | {s * 1e9 / n:.1f} | {s / logit:.2f}x |")
    publish("\n".join(lines), BEGIN, END, args.readme)


if __name__ == "__main__":
    main()
