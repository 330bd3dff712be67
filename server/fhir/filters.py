"""Compose filters of value sets (``is-a``, ``=``, ``regex``...): the concepts of a code system that pass one."""

from __future__ import annotations

from typing import Any

import re2

from calcinosis_kg.server.fhir.errors import FhirError, InvalidRequest
from calcinosis_kg.server.fhir.messages import message
from calcinosis_kg.server.fhir.model import JSON, CodeSystemIndex, Concept

MAX_REGEX_LENGTH = 200
"""Longest regular expression accepted in a ``regex`` filter."""
REGEX_MEMORY = 8 * 1024 * 1024
"""Memory RE2 may use for one compiled ``regex`` filter (its default; a larger automaton is refused)."""


def filter_concepts(cs: CodeSystemIndex, item: JSON, path: str) -> list[Concept]:
    """The concepts of ``cs`` that pass the compose filter ``item`` (property, op, value)."""
    prop, op, value = item.get("property"), item.get("op"), item.get("value")
    if value is None or value == "":
        said = "UNABLE_TO_HANDLE_SYSTEM_FILTER_WITH_NO_VALUE"
        raise FhirError(message(said, cs.url, prop, op), tx_code="vs-invalid", message_id=said).at(path)
    value = str(value)
    if prop in ("concept", "code") and op in ("is-a", "descendent-of", "is-not-a", "child-of", "generalizes"):
        root = cs.find(value)
        if root is None:
            return [] if op != "is-not-a" else list(cs)
        if op == "is-a":
            codes = [root.code, *cs.descendants(root.code)]
        elif op == "descendent-of":
            codes = cs.descendants(root.code)
        elif op == "child-of":
            codes = list(root.children)
        elif op == "generalizes":
            codes = [root.code, *cs.ancestors(root.code)]
        else:
            below = {root.code, *cs.descendants(root.code)}
            codes = [c.code for c in cs if c.code not in below]
        return [cs.concepts[c] for c in codes]
    if op == "regex":
        pattern = compile_regex(value, path)
        return [c for c in cs if any(pattern.fullmatch(text) for text in _texts(c, prop))]
    if op in ("=", "in", "not-in"):
        wanted = {value} if op == "=" else {v.strip() for v in value.split(",")}
        if op == "not-in":
            return [c for c in cs if not wanted & set(_texts(c, prop))]
        return [c for c in cs if wanted & set(_texts(c, prop))]
    if op == "exists":
        exists = value.lower() == "true"
        return [c for c in cs if bool(_texts(c, prop)) == exists]
    raise FhirError(f"The filter operator {op!r} on property {prop!r} is not supported", tx_code="vs-invalid").at(path)


def compile_regex(value: str, path: str) -> re2._Regexp[str]:
    """The ``regex`` filter ``value`` compiled by RE2, which matches in time linear in the text (Python's ``re``
    backtracks: ``([a-z0-9-]+)+X`` took minutes against one code). The filter passes a concept whose property
    value matches the whole expression (``fullmatch``), as FHIR defines it. RE2 has no lookaround and no
    backreferences: such a pattern, or one over :data:`MAX_REGEX_LENGTH` characters, is a 400 saying why."""
    if len(value) > MAX_REGEX_LENGTH:
        raise InvalidRequest(f"The regular expression of filter {path} is longer than {MAX_REGEX_LENGTH} characters")
    options = re2.Options()
    options.log_errors = False
    options.max_mem = REGEX_MEMORY
    try:
        return re2.compile(value, options)
    except re2.error as error:
        reason = error.args[0].decode("utf-8", "replace") if error.args and isinstance(error.args[0], bytes) else error
        raise InvalidRequest(
            f"The regular expression {value!r} of {path} is not supported: {reason}. Regex filters use RE2 syntax, "
            "which has no lookaround and no backreferences"
        ).at(path) from None


def _texts(concept: Concept, prop: str | None) -> list[str]:
    if prop in ("concept", "code"):
        return [concept.code]
    if prop == "display":
        return [concept.display] if concept.display else []
    if prop == "inactive":
        return ["true" if concept.inactive else "false"]
    return [_text(v) for v in concept.property_values(prop or "")]


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return str(value.get("code", ""))
    return str(value)
