"""Synthetic retail data for `cdp demo` and the benchmarks (the `demo` extra; never in the Lambda image)."""
