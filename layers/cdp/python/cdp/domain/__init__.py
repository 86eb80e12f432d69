"""Pure domain logic over Arrow, pandas and DuckDB: no AWS, no I/O beyond what callers hand in."""
