"""The README's pictures are the files ``make screenshots`` writes, taken of the current release."""

from __future__ import annotations

import re
from pathlib import Path

from calcinosis_kg.graph.release import release_info
from calcinosis_kg.ontology import load_ontology
from tests.web.screenshots import FOLDER, RELEASE_KEY, ROOT, SHOTS, texts

PICTURE = re.compile(r"!\[[^\]]*\]\(([^)\s]+\.png)\)")
"""A Markdown image whose file is a PNG."""


def test_the_readme_shows_exactly_the_screenshots_make_screenshots_writes() -> None:
    pictures = {Path(path) for path in PICTURE.findall((ROOT / "README.md").read_text(encoding="utf-8"))}
    screenshots = {path for path in pictures if (ROOT / path).parent == FOLDER}
    assert screenshots == {FOLDER.relative_to(ROOT) / f"{name}.png" for name in SHOTS}
    assert all((ROOT / path).is_file() for path in pictures)


def test_the_screenshots_show_the_current_release() -> None:
    """Stamped by ``make screenshots``: run it again when the release (the ontology's version IRI) changes."""
    release = release_info(load_ontology()).version_iri
    shown = {name: texts(FOLDER / f"{name}.png").get(RELEASE_KEY) for name in SHOTS}
    assert shown == dict.fromkeys(SHOTS, release)
