"""A command's environment without one program on PATH: how the tests run the build as on a machine without Java."""

from __future__ import annotations

import os
import shutil
from pathlib import Path


def path_without(program: str, shadow: Path) -> str:
    """``$PATH`` with ``program`` removed: each folder holding it is replaced by ``shadow/N``, a folder of links to
    its other entries, so every other command is still found where it was."""
    folders = []
    for index, folder in enumerate(os.environ.get("PATH", "").split(os.pathsep)):
        if not folder or not (Path(folder) / program).exists():
            folders.append(folder)
            continue
        copy = shadow / str(index)
        copy.mkdir(parents=True, exist_ok=True)
        for entry in Path(folder).iterdir():
            if entry.name != program:
                (copy / entry.name).symlink_to(entry)
        folders.append(str(copy))
    path = os.pathsep.join(folders)
    assert shutil.which(program, path=path) is None, f"{program} is still on {path}"
    return path
