"""Render a codebook as Markdown (the generated ``data_schema/CODEBOOK.md``).

Called by :meth:`bayesresp.data.codebook.Codebook.to_markdown`; it reads the codebook and
its fields by their attributes and imports nothing of the package.
"""

from __future__ import annotations

from typing import Any

Codebook = Field = Any  # see bayesresp.data.codebook

_ROLE_HEADINGS = {
    "outcome": "Outcome",
    "group": "Grouping factors",
    "identifier": "Identifiers",
    "bookkeeping": "Bookkeeping",
}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _levels(f: Field) -> str:
    if f.categories is None:
        return f.expected()
    sep = " < " if f.ordered else ", "
    shown = [f"`{c}`" for c in f.categories]
    return sep.join(shown)


def _field_row(f: Field) -> str:
    notes = []
    if f.constant_within:
        notes.append(f"constant within {' + '.join(f.constant_within)}")
    if f.nested_in:
        notes.append(f"nested in {f.nested_in}")
    if f.codes is not None:
        notes.append(f"codes {f.codes[0]}-{f.codes[-1]} accepted")
    desc = f.description + (f" ({'; '.join(notes)})" if notes else "")
    return (
        f"| `{f.name}` | {f.kind} | {'yes' if f.required else 'no'} | {_cell(_levels(f))} "
        f"| {_cell(desc)} | {_cell(f.hypothesis)} |"
    )


_HEADER = (
    "| column | kind | required | levels or range | description | hypothesis |\n"
    "|---|---|---|---|---|---|"
)


def render_markdown(cb: Codebook) -> str:
    """Markdown for ``cb``: outcome first, then covariates by block, then the rest."""
    lines = [
        f"# Codebook: {cb.title}",
        "",
        "<!-- Generated from codebook.json by `bayesresp codebook --markdown`. "
        "Do not edit by hand: edit the JSON and regenerate (`make codebook`). -->",
        "",
        f"Name `{cb.name}`, version {cb.version or 'unversioned'}. "
        f"Missing values are written as: {', '.join(repr(m) for m in cb.missing_values)}.",
        "",
        cb.description,
        "",
    ]
    out = cb.outcome
    lines += [
        "## Outcome: the conciliation-confrontation spectrum",
        "",
        f"Column `{out.name}` ({'required' if out.required else 'optional'}, ordinal). "
        + out.description,
        "",
    ]
    lines += ["| code | label | meaning |", "|---|---|---|"]
    codes = out.codes if out.codes is not None else [None] * len(out.categories)
    for code, label in zip(codes, out.categories, strict=True):
        meaning = out.level_descriptions.get(label, "")
        lines.append(f"| {'' if code is None else code} | `{label}` | {_cell(meaning)} |")
    lines.append("")
    if out.range_columns is not None:
        low, high = out.range_columns
        lines += [
            f"Ambiguous codes. A response that cannot be placed at one level is written as a "
            f"range of levels: leave `{out.name}` empty and give the lowest level it may be "
            f"in the column `{low}` and the highest in `{high}` (labels or codes, as "
            f"`{out.name}` takes them; both ends are included). The two columns are "
            f"optional; a row gives either a level in `{out.name}` or both ends of a range, "
            f"never both, and the low end may not be above the high end (equal ends are "
            f"one level). The model counts a range row as "
            f"P(`{low}` <= `{out.name}` <= `{high}`).",
            "",
            "| column | kind | required | levels | description |",
            "|---|---|---|---|---|",
            f"| `{low}` | ordinal | no | as `{out.name}` | lowest level of an ambiguous code |",
            f"| `{high}` | ordinal | no | as `{out.name}` | highest level of an ambiguous code |",
            "",
        ]
    for block, names in cb.blocks().items():
        lines += [f"## Covariates: {block}", "", _HEADER]
        lines += [_field_row(cb.fields[n]) for n in names]
        lines.append("")
    for role in ("group", "identifier", "bookkeeping"):
        fields = [f for f in cb.fields.values() if f.role == role]
        if fields:
            lines += [f"## {_ROLE_HEADINGS[role]}", "", _HEADER]
            lines += [_field_row(f) for f in fields]
            lines.append("")
    if cb.row_key:
        lines += [
            f"Rows are identified by {' + '.join(f'`{k}`' for k in cb.row_key)} "
            "(those of these columns that a file has); no two rows may share them.",
            "",
        ]
    return "\n".join(lines).rstrip() + "\n"
