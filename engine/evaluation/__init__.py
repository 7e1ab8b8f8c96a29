"""Accuracy benchmarks through the real engine: `ris eval` (see run.py)."""
