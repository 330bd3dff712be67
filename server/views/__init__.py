"""The blueprints that are not the SPARQL endpoint: pages, health, canned queries, lookup, linked data, VoID,
OpenAPI; each a factory taking its dependencies."""
