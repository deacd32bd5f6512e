"""Benchmarks: `make bench` (python -m bench). Figures go to stdout and bench/results/latest.json."""
