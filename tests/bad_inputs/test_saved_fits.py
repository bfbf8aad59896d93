"""Bad inputs around saved fits: what exists is never replaced or damaged by a refusal."""

from __future__ import annotations


def test_an_existing_fit_is_not_overwritten_without_the_flag(refuses, small_csv, saved_fit):
    refuses(
        "fit",
        small_csv,
        "--spec",
        "hierarchical",
        "--out",
        saved_fit,
        "--draws",
        "10",
        "--tune",
        "10",
        "--chains",
        "1",
        status=2,
        names=[str(saved_fit), "--overwrite"],
        keep=[saved_fit],
    )


def test_a_folder_that_is_not_a_fit_is_never_replaced(refuses, small_csv, tmp_path):
    folder = tmp_path / "mine.zarr"
    folder.mkdir()
    (folder / "notes.txt").write_text("my notes")
    refuses(
        "fit",
        small_csv,
        "--spec",
        "baseline",
        "--out",
        folder,
        "--overwrite",
        "--draws",
        "10",
        "--tune",
        "10",
        "--chains",
        "1",
        status=2,
        names=[str(folder)],
        keep=[folder],
    )
