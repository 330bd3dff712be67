"""Where the project's folders are: the repository, the build folder and the releases.

The build folder is read from ``KG_BUILD_DIR`` each time it is asked for (tests and embedders point it elsewhere
after import); without it, ``build/`` beside the repository, or, where the package is installed from a wheel
without a repository, the release the wheel carries (``calcinosis_kg/release/``, staged by ``make wheel``).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
RELEASES_DIR = REPO_ROOT / "releases"
BUILD_DIR_VARIABLE = "KG_BUILD_DIR"
PACKAGED_RELEASE_DIR = Path(__file__).resolve().parent / "release"
"""The release a wheel carries (package data of ``calcinosis_kg``; in a repository a git-ignored staging folder)."""
RELEASE_FILES = ("calcinosis-kg*", "code-systems.json", "summary.*", "release-diff.*", "schema.md")
"""The build's release artifacts (glob patterns in the build folder) a wheel carries: what the server reads
(the graph, its dumps, the code-systems table) and the documents of the release."""


def in_repository() -> bool:
    """Whether this package runs from a checkout (editable install) rather than from an installed wheel."""
    return (REPO_ROOT / "pyproject.toml").is_file()


def build_dir() -> Path:
    """The build folder: ``$KG_BUILD_DIR``, else ``build/`` beside the repository, else the wheel's release."""
    if BUILD_DIR_VARIABLE in os.environ:
        return Path(os.environ[BUILD_DIR_VARIABLE])
    return REPO_ROOT / "build" if in_repository() else PACKAGED_RELEASE_DIR


def stage_release(source: Path | None = None, target: Path = PACKAGED_RELEASE_DIR) -> list[Path]:
    """Copy the release artifacts of ``source`` (default: the build folder) into ``target``, emptied first.

    ``make wheel`` stages the release into the package this way before building the wheel. Raises
    FileNotFoundError when ``source`` holds no built graph.
    """
    source = source or build_dir()
    if not (source / "calcinosis-kg.nt").is_file():
        raise FileNotFoundError(f"no built graph in {source}: run `make build` first")
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    files = sorted({path for pattern in RELEASE_FILES for path in source.glob(pattern) if path.is_file()})
    return [Path(shutil.copy2(path, target / path.name)) for path in files]
