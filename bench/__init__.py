"""Benchmark scripts; each prints its figures and, last, a ratio against a baseline."""
