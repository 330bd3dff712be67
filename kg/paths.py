"""Where the project's folders are: the repository, the build folder and the releases.

The build folder is read from ``KG_BUILD_DIR`` each time it is asked for (tests and embedders point it elsewhere
after import); without it, ``build/`` beside the repository.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
RELEASES_DIR = REPO_ROOT / "releases"
BUILD_DIR_VARIABLE = "KG_BUILD_DIR"


def build_dir() -> Path:
    """The build folder: ``$KG_BUILD_DIR``, else ``build/`` beside the repository."""
    return Path(os.environ.get(BUILD_DIR_VARIABLE, REPO_ROOT / "build"))
