"""Running the W3C SPARQL 1.0 and 1.1 query test suites (copied in ``tests/w3c/sparql``) against an endpoint.

- :mod:`.manifest`: the tests the manifests list, with their query, data and expected result files;
- :mod:`.dataset`: every data file converted by pyoxigraph into one N-Quads file, a named graph per file;
- :mod:`.terms`: RDF terms as plain values, and the readers of every expected result format;
- :mod:`.compare`: result comparison (bags or sequences of solutions, graphs, booleans; blank-node isomorphism);
- :mod:`.runner`: one test evaluated over HTTP or by bare pyoxigraph in-process, and the expected failures.
"""
