"""Accuracy benchmarks through the real engine: `ris eval` (see run.py)."""

SECTIONS = ("lfw", "video", "hard", "dev", "people")  # the benchmarks `ris eval --only` can pick
