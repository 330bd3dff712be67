"""View models and routes of the web UI's pages, kept apart from :mod:`calcinosis_kg.server.views.ui`.

- :mod:`.assets`: the browser libraries installed from npm (``make static``) and the pages' own scripts;
- :mod:`.editor`: what the SPARQL editor of ``/query`` completes (prefixes, classes, properties, entities)
  and its ready-made tabs (the canned questions, grouped by topic);
- :mod:`.tree`: the ontology's class hierarchy with member counts;
- :mod:`.resource`: the resource page's numbered references and its neighbourhood picture;
- :mod:`.overview`: the home page's picture of the knowledge.
"""
