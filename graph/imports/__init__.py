"""Imports: small, committed, deterministic slices of external resources, the way OBO projects import them.

Each import reads a versioned release (never the network at build time), selects a slice by a stated rule and
writes it under ``graph/imports/<name>/`` with the release's IRI and date in every file's header; a test re-runs the
import and checks the committed slice is what it produces. See ``graph/imports/README.md``.
"""
