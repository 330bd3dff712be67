"""The project's exception hierarchy.

Every error a user can cause derives from :class:`KGError`; the CLI prints its message and exits non-zero,
and the server maps each subclass to one HTTP status in one place.
"""


class KGError(Exception):
    """Base class of every expected, user-facing error."""


class CurationError(KGError):
    """The curated knowledge (graph/knowledge/*.yaml) is malformed or refers to something unknown."""


class ValidationFailed(KGError):
    """The built graph broke a SHACL shape, a violation query, OWL consistency or determinism."""

    def __init__(self, check: str, problems: list[str]) -> None:
        self.check = check
        self.problems = problems
        shown = "\n".join(f"  - {p}" for p in problems[:50])
        more = f"\n  ... and {len(problems) - 50} more" if len(problems) > 50 else ""
        super().__init__(f"{check} failed with {len(problems)} problem(s):\n{shown}{more}")


class QueryError(KGError):
    """A canned query or its parameters are invalid."""


class UnknownQuery(QueryError):
    """No canned query has the requested name."""


class CodeSyntaxError(KGError):
    """A terminology code (for example in graph/mappings/) breaks the identifier syntax of its code system."""


class UnknownCode(KGError):
    """A well-formed code that no entity of the graph is mapped to."""


class UnknownEntity(KGError):
    """An entity identifier that names no entity of the graph."""
