"""Canned SPARQL queries: one query per .rq file with a #+ YAML metadata header."""
