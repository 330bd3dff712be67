"""Query engines behind one contract (:mod:`.contract`): the embedded Oxigraph engine (:mod:`.oxigraph`)."""
