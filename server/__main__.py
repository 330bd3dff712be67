"""``python -m calcinosis_kg.server [--host H] [--port P] [--production] [--workers N]``: ``calcinosis-kg serve``.

One entry point, one behaviour: settings come from the ``KG_*`` environment variables (see
docs/sparql-endpoint.md); a configuration error prints one line and exits with status 2, as every command of
``calcinosis-kg`` does.
"""

from __future__ import annotations

import gc
import sys

if __name__ == "__main__":
    gc.disable()  # no cycle collection while the server's modules load: serve() turns it back on
    from calcinosis_kg.cli import main

    sys.exit(main(["serve", *sys.argv[1:]]))
