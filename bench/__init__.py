"""Microbenchmarks run by `make bench`."""
