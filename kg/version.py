"""``calcinosis-kg --version``: the package's version and the release it serves."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence


def release_name() -> str:
    """The package version and the release it serves: the release diff's target in the build folder (what the
    server serves), else the ontology source's header (not built yet)."""
    from importlib.metadata import PackageNotFoundError, version

    from calcinosis_kg.graph.release import DIFF_JSON, ReleaseInfo, release_info
    from calcinosis_kg.ontology import load_ontology
    from calcinosis_kg.paths import build_dir

    try:
        package = version("calcinosis-kg")
    except PackageNotFoundError:  # run from a checkout without installing it
        package = "(not installed)"
    diff = build_dir() / DIFF_JSON
    if diff.is_file():
        release, where = ReleaseInfo(**json.loads(diff.read_text(encoding="utf-8"))["to"]), f"built in {diff.parent}"
    else:
        release, where = release_info(load_ontology(), dated=False), "ontology source, not built"
    dated = f" of {release.date}" if release.date else ""
    return f"calcinosis-kg {package}: release {release.version_info}{dated}, {release.version_iri} ({where})"


class VersionAction(argparse.Action):
    """``--version``: prints :func:`release_name` (computed only when asked: it reads the release) and exits."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: object) -> None:
        super().__init__(option_strings, dest, nargs=0, help="print the package version and its release, and exit")

    def __call__(self, parser: argparse.ArgumentParser, *args: object) -> None:
        print(release_name())
        parser.exit()
