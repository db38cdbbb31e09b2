"""`make bench`: measurements of shortlink on this machine (results under .cache/bench/)."""
