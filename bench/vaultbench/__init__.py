"""The vault benchmark (bench/bench_vault.py), in parts."""
