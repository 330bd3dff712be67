"""The HTTP layer shared by every route: format negotiation, conditional GET, response replay, headers and the
access log, metrics, and the runner that serves the app (granian or werkzeug)."""
