"""The shareable HTML report: self-contained, every section present, opened in a real
headless Chromium with no broken image; the command line's user errors in one line."""

from __future__ import annotations

import base64
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner

import bayesresp
from bayesresp.cli import cli
from bayesresp.data.tables import write_csv
from bayesresp.present.report import SECTIONS, ReportError, render_report, write_report

# with profiles, every section but that of a fit with the coders' layer (tests/inference/
# test_coders.py reads that one)
# (the coders' section: fits of coded data only; proportional odds: when asked for)
EXPECTED = [sid for sid, _ in SECTIONS if sid not in ("coders", "po")]
NASTY = '<b>HoM</b> & "military"'  # a profile label that must come out escaped
PROFILE_COLUMNS = [
    "mission",
    "department",
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
]


class _Page(HTMLParser):
    """What the static checks need: sections and their headings, resource references."""

    def __init__(self) -> None:
        super().__init__()
        self.sections: dict[str, str] = {}
        self.refs: list[tuple[str, str, str]] = []  # (tag, attribute, value)
        self.tags: list[str] = []
        self._section: str | None = None
        self._in_h2 = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append(tag)
        for name in ("src", "href", "srcset", "data", "action", "poster"):
            if a.get(name) is not None:
                self.refs.append((tag, name, a[name]))
        if tag in ("section", "footer") and a.get("id"):
            self._section = a["id"]
            self.sections[self._section] = ""
        if tag == "h2":
            self._in_h2 = True

    def handle_endtag(self, tag):
        if tag == "h2":
            self._in_h2 = False

    def handle_data(self, data):
        if self._in_h2 and self._section is not None:
            self.sections[self._section] += data


def _parse(text: str) -> _Page:
    page = _Page()
    page.feed(text)
    return page


def _profiles(example, path: Path, **changes) -> Path:
    rows = example.iloc[[0, 7, 19]][PROFILE_COLUMNS].copy()
    rows.insert(0, "profile", [NASTY, "human rights officer", "field office"])
    for col, value in changes.items():
        rows[col] = rows[col].astype(object)
        rows.iloc[0, rows.columns.get_loc(col)] = value
    write_csv(rows, path)
    return path


@pytest.fixture(scope="module")
def fit_file(thinned_fits, tmp_path_factory):
    """The hierarchical fit thinned to 250 draws per chain (conftest.py: thinned_fits),
    saved: the report's sections, images and footer are the same for any draws of the
    fit, and the time to write it (checks, LOO, replicated data) and to load the file
    grows with them."""
    return thinned_fits["hierarchical"].save(tmp_path_factory.mktemp("report") / "fit.nc")


@pytest.fixture(scope="module")
def cli_report(fit_file, example):
    """The report the command line writes for the fit file, with a what-if section."""
    folder = fit_file.parent
    profiles = _profiles(example, folder / "profiles.csv")
    out = folder / "report.html"
    res = CliRunner().invoke(
        cli, ["report", str(fit_file), "--out", str(out), "--profiles", str(profiles)]
    )
    if res.exception is not None and not isinstance(res.exception, SystemExit):
        raise res.exception
    assert res.exit_code == 0, res.stderr
    assert f"wrote {out}" in res.stdout
    return out


# -- without a browser ---------------------------------------------------------------------
def test_report_is_self_contained_with_every_section(cli_report):
    text = cli_report.read_text(encoding="utf-8")
    page = _parse(text)
    assert text.startswith("<!DOCTYPE html>")
    for sid, title in SECTIONS:
        if sid in EXPECTED:
            assert page.sections.get(sid, "").strip() == title, sid
    assert "provenance" in page.sections
    # No external resource of any kind: images are data: URIs, links are in-page anchors.
    assert "script" not in page.tags and "link" not in page.tags and "iframe" not in page.tags
    for tag, attr, value in page.refs:
        assert not value.lower().startswith(("http://", "https://", "//", "file:")), value
        if attr == "src":
            assert tag == "img" and value.startswith("data:image/png;base64,")
            png = base64.b64decode(value.split(",", 1)[1])
            assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 2000
        if attr == "href":
            assert value.startswith("#") and value[1:] in page.sections
    assert "url(http" not in text and "@import" not in text
    images = [r for r in page.refs if r[1] == "src"]
    assert len(images) >= 7  # spectrum, coefficients, variance, PPC, LOO-PIT, by mission, what-if
    # User text is escaped; the footer records what the fit file records.
    assert "<b>HoM</b>" not in text and "&lt;b&gt;HoM&lt;/b&gt; &amp;" in text
    attrs = bayesresp.load_fit(cli_report.parent / "fit.nc").file_attrs
    assert attrs["data_sha256"] in text and f"PyMC {attrs['pymc_version']}" in text
    assert "seed 20261128" in text and "nutpie" in text
    # The default r2d2 prior: its allotment beside the realised shares, and the
    # power-scaling sensitivity of R2 and each share, always
    assert "How much the prior decides R2 and the shares" in text
    for name in ("R2", "share(incident)", "share(group(mission))"):
        assert f"<th>{name}</th>" in text or f">{name}<" in text, name
    assert "allotted" in text


def test_report_without_profiles_has_no_what_if(thinned_fits, tmp_path):
    out = write_report(thinned_fits["hierarchical"], tmp_path / "r.html", ppc_by=None, ppc_draws=20)
    page = _parse(out.read_text(encoding="utf-8"))
    assert [s for s in page.sections if s != "provenance"] == EXPECTED[:-1]


def test_report_refuses_bad_arguments_before_working(hierarchical, tmp_path):
    with pytest.raises(ReportError, match="no column 'nope'"):
        render_report(hierarchical, ppc_by="nope")
    with pytest.raises(ReportError, match="does not exist"):
        write_report(hierarchical, tmp_path / "missing" / "r.html")
    with pytest.raises(bayesresp.FitFileError, match="not found"):
        render_report(tmp_path / "absent.nc")


def _one_line_error(res, status: int, message: str) -> None:
    assert res.code == status, (res.code, res.err)
    lines = res.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), res.err
    assert message in lines[0], lines[0]
    assert "Traceback" not in res.err


def test_cli_user_errors_say_one_line(run_cli, fit_file, example, tmp_path):
    out = tmp_path / "r.html"
    _one_line_error(
        run_cli("report", tmp_path / "absent.nc", "--out", out), 2, "fit file not found"
    )
    not_fit = tmp_path / "data.csv"
    write_csv(example.head(5), not_fit)
    _one_line_error(run_cli("report", not_fit, "--out", out), 2, "cannot be read as a fit file")
    bad = _profiles(example, tmp_path / "bad.csv", severity="catastrophic")
    res = run_cli("report", fit_file, "--out", out, "--profiles", bad)
    _one_line_error(res, 1, "1 problem in the profiles")
    assert "catastrophic" in res.err
    unseen = _profiles(example, tmp_path / "unseen.csv", mission="UNKNOWN")
    _one_line_error(
        run_cli("report", fit_file, "--out", out, "--profiles", unseen),
        1,
        "is not in the fitted data",
    )
    _one_line_error(
        run_cli("report", fit_file, "--out", out, "--profiles", tmp_path / "none.csv"),
        2,
        "not found",
    )
    _one_line_error(
        run_cli("report", fit_file, "--out", out, "--by", "nope"), 2, "no column 'nope'"
    )
    res = run_cli("report", fit_file, "--out", tmp_path / "r.txt")
    assert res.code == 2 and "must end in .html" in res.err and "Traceback" not in res.err
    assert not out.exists()


def test_cli_help_shows_an_example(run_cli):
    res = run_cli("report", "--help")
    assert res.code == 0 and "bayesresp report fit.nc --out report.html" in res.out
    assert "Exit status" in res.out and "--profiles" in res.out and "--groups" in res.out


# -- in a real headless Chromium -----------------------------------------------------------
_INSPECT = """
const sections = Array.from(document.querySelectorAll('section[id], footer[id]')).map(s => {
  const h = s.querySelector('h2'); const r = s.getBoundingClientRect();
  return {id: s.id, h2: h ? h.textContent.trim() : null, h2_shown: !!(h && h.offsetHeight),
          height: r.height};
});
const images = Array.from(document.images).map(i => ({
  alt: i.alt, complete: i.complete, natural: i.naturalWidth, shown: i.getBoundingClientRect().width
}));
const resources = performance.getEntriesByType('resource').map(e => e.name);
return {title: document.title, sections: sections, images: images, resources: resources,
        width: document.documentElement.scrollWidth};
"""


def test_report_renders_in_headless_chromium(chromium, cli_report, tmp_path):
    from selenium.webdriver.support.ui import WebDriverWait

    chromium.get(cli_report.resolve().as_uri())
    WebDriverWait(chromium, 30).until(
        lambda d: d.execute_script(
            "return document.readyState === 'complete' && "
            "Array.from(document.images).every(i => i.complete)"
        )
    )
    page = chromium.execute_script(_INSPECT)
    assert page["title"].startswith("bayesresp report")
    shown = {s["id"]: s for s in page["sections"]}
    for sid, title in SECTIONS:
        if sid not in EXPECTED:  # (sections of coded data, and of a check asked for)
            continue
        assert sid in shown, f"section {sid} not rendered"
        assert shown[sid]["h2"] == title and shown[sid]["h2_shown"], shown[sid]
        assert shown[sid]["height"] > 50, shown[sid]
    assert shown["provenance"]["h2"] == "Provenance"
    assert len(page["images"]) >= 7
    broken = [i["alt"] for i in page["images"] if not (i["complete"] and i["natural"] > 0)]
    assert not broken, f"broken images: {broken}"
    assert all(i["shown"] > 100 for i in page["images"]), page["images"]
    assert [r for r in page["resources"] if not r.startswith("data:")] == []
    assert page["width"] <= 1280  # no horizontal overflow of the page itself
    shot = tmp_path / "report.png"
    assert chromium.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
