"""Benchmark harness of the calcinosis-kg SPARQL server against Oxigraph's server and rdflib-endpoint.

Run ``python -m bench --help`` from the repository root (``make bench``); see docs/benchmark.md. Nothing here
is imported by the product or by the test suite, and importing this package imports nothing heavy: the
load probes (:mod:`bench.probe`) run in child processes whose memory must be their own.
"""
