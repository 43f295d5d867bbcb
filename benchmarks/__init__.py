"""Benchmark sets, Ray sweeps, result stores, reports, and bench_*.py performance scripts."""
