"""The SPARQL layer: the protocol endpoint, the lexer that screens queries before the engine."""
