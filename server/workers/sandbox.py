"""A second line of defence in the query workers: an audit hook that forbids network, file and process access.

The first line is the lexer (:mod:`calcinosis_kg.server.sparql.lexer`), which keeps SERVICE from reaching the
engine. Should Python code in a worker try to reach the network or a file anyway, the hook makes it fail.
It is installed only in query worker processes, after the dataset is loaded, and cannot be removed
(audit hooks are permanent, which is the point). Reading Python code (lazy imports) and files of the
Python installation stays allowed; every other ``open`` of a path is refused.
"""

from __future__ import annotations

import os
import sys
from typing import Any

BLOCKED_EVENTS = frozenset(
    {
        "urllib.Request",
        "http.client.connect",
        "ftplib.connect",
        "smtplib.connect",
        "socket.connect",
        "socket.bind",
        "socket.sendto",
        "socket.getaddrinfo",
        "socket.gethostbyname",
        "socket.gethostbyaddr",
        "subprocess.Popen",
        "os.system",
        "os.exec",
        "os.posix_spawn",
        "os.spawn",
        "os.fork",
        "os.forkpty",
        "webbrowser.open",
    }
)
"""Audit events refused outright."""

_CODE_SUFFIXES = (".py", ".pyc", ".so")


class SandboxViolation(PermissionError):
    """Code running in a query worker tried to reach the network, a file or another program."""


def forbid_io() -> None:
    """Install the audit hook in the current process (for good)."""
    installation = {sys.prefix, sys.base_prefix, sys.exec_prefix}
    roots = tuple(os.path.join(os.path.abspath(root), "") for root in installation)

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if event in BLOCKED_EVENTS:
            raise SandboxViolation(f"{event} is not allowed while answering a query")
        if event == "open" and isinstance(args[0], str | bytes | os.PathLike):
            path = os.path.abspath(os.fsdecode(args[0]))
            if not path.endswith(_CODE_SUFFIXES) and not path.startswith(roots):
                raise SandboxViolation(f"opening {path} is not allowed while answering a query")

    sys.addaudithook(hook)
