"""Curated knowledge, its compilation to RDF, the build and its validation."""
