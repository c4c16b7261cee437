"""Benchmarks whose logic outgrows a script (the scripts in ``scripts/`` call them)."""
