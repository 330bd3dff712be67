"""The OpenAPI 3.1 document of every route (``/openapi.json``) and its explorer page (``/api``).

:mod:`.document` collects the paths that each module with routes describes next to them (``openapi_paths()``,
written with the building blocks of :mod:`calcinosis_kg.server.http.openapi`) and serves the document.
"""
