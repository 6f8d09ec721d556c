"""Benchmarks: each runs a peer in the same process and prints the ratio."""
