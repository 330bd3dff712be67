"""Serve the endpoint: ``python -m calcinosis_kg.server [--host H] [--port P] [--production] [--workers N]``.

Settings come from the KG_* environment variables (see docs/sparql-endpoint.md).
"""

from __future__ import annotations

import argparse
import sys

from calcinosis_kg.errors import KGError
from calcinosis_kg.server.http.serve import serve


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and serve; print a one-line error and return 1 on a configuration error."""
    parser = argparse.ArgumentParser(prog="python -m calcinosis_kg.server", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000)")
    parser.add_argument("--production", action="store_true", help="serve with granian worker processes")
    parser.add_argument("--workers", type=int, help="processes evaluating queries (default: the cores)")
    args = parser.parse_args(argv)
    try:
        serve(args.host, args.port, production=args.production, workers=args.workers)
    except KGError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
