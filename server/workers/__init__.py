"""Query worker processes: the pool that hands them jobs under a time limit (:mod:`.pool`), their sandbox."""
