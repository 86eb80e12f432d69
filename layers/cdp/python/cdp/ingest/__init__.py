"""Ingestion: read a landed file (formats), check it against its source's contract, normalise its values, keep
new versions only, and commit it whole or in parts."""
