"""``python -m calcinosis_kg.server [--host H] [--port P] [--production] [--workers N]``: ``calcinosis-kg serve``.

One entry point, one behaviour: settings come from the ``KG_*`` environment variables (see
docs/sparql-endpoint.md); a configuration error prints one line and exits with status 2, as every command of
``calcinosis-kg`` does.
"""

from __future__ import annotations

import sys

from calcinosis_kg.cli import main

if __name__ == "__main__":
    sys.exit(main(["serve", *sys.argv[1:]]))
