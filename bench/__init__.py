"""`make bench`: measurements of shortlink on this machine, written under .cache/bench/."""
