"""The README is a user's guide whose examples work: every ``curl`` command and Python block in it runs against a
real server serving the built release, and answers with a 2xx and a body."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.live_server import LiveServer, live_server

pytestmark = pytest.mark.live

README = Path(__file__).resolve().parent.parent / "README.md"
TEXT = README.read_text(encoding="utf-8")
ADDRESS = "http://127.0.0.1:8000"
"""Where the README's examples expect the server (``make serve``'s default); the tests put theirs there instead."""
BLOCK = re.compile(r"^```(sh|python)\n(.*?)^```", re.MULTILINE | re.DOTALL)
USERS = ("SPARQL", "Linked data", "FHIR", "canned questions", "web UI")
"""The sections a user looks for, one per kind of user (a heading containing each)."""


def _blocks(language: str) -> list[str]:
    return [body for kind, body in BLOCK.findall(TEXT) if kind == language]


def _curl_commands() -> list[str]:
    """Every ``curl`` command of the README's shell blocks, continuation lines joined, comments kept out."""
    commands = []
    for block in _blocks("sh"):
        for command in block.replace("\\\n", " ").splitlines():
            if command.startswith("curl "):
                commands.append(command)
    return commands


CURL = _curl_commands()
PYTHON = _blocks("python")


def test_the_readme_is_short_and_has_a_section_for_each_user() -> None:
    assert len(TEXT.splitlines()) < 250
    headings = re.findall(r"^## (.+)$", TEXT, re.MULTILINE)
    assert [user for user in USERS if not any(user in heading for heading in headings)] == []
    assert len(CURL) >= 8
    assert len(PYTHON) >= 3


def test_every_picture_the_readme_shows_is_in_the_repository() -> None:
    pictures = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", TEXT)
    assert "docs/screenshots/scale.svg" in pictures  # issue 28: start time and memory against the data's size
    assert [path for path in pictures if not (README.parent / path).is_file()] == []


@pytest.fixture(scope="module")
def server(build_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The server as ``make serve`` runs it: no ``KG_DATA``, the build's dataset (its named graphs, the union)."""
    settings = {"KG_BUILD_DIR": str(build_dir), "KG_ENGINE": "oxigraph"}
    with live_server(tmp_path_factory.mktemp("readme"), [], settings) as live:
        yield live


@pytest.mark.parametrize("command", CURL)
def test_each_curl_example_answers(command: str, server: LiveServer, tmp_path: Path) -> None:
    assert ADDRESS in command
    strict = command.replace(ADDRESS, server.url).replace("curl ", "curl -sS --fail-with-body ", 1)
    done = subprocess.run(["bash", "-c", strict], cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, f"{command}\n{done.stdout[-2000:]}{done.stderr[-2000:]}"
    written = [path.stat().st_size for path in tmp_path.iterdir()]
    assert done.stdout.strip() or any(written), command


@pytest.mark.parametrize("code", PYTHON, ids=[f"python-{n}" for n in range(len(PYTHON))])
def test_each_python_example_runs(code: str, server: LiveServer, tmp_path: Path) -> None:
    assert ADDRESS in code
    done = subprocess.run(
        [sys.executable, "-c", code.replace(ADDRESS, server.url)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, f"{code}\n{done.stderr[-2000:]}"
    assert done.stdout.strip()
