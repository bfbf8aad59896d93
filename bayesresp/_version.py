"""The package version: one source, read by pyproject.toml (hatch) and the fit files."""

__version__ = "0.1.0"
