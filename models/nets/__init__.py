"""Torch modules only: no data loading, no training loops, no I/O."""
