"""calcinosis_kg: a provenanced OWL knowledge graph of calcinosis cutis.

The installed package maps the repository's pipeline folders into one namespace:
``calcinosis_kg.ontology`` (schema), ``calcinosis_kg.graph`` (curated knowledge, build and validation),
``calcinosis_kg.queries`` (canned SPARQL) and ``calcinosis_kg.server`` (the Flask app).
"""

__version__ = "0.1.0"
