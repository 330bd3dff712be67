"""The OpenAPI 3.1 document of every route (``/openapi.json``) and its explorer page (``/api``).

:mod:`.document` assembles it and serves it; :mod:`.parts` holds the shared building blocks; the paths of each
group of routes are in :mod:`.query_paths`, :mod:`.resource_paths` and :mod:`.page_paths`.
"""
