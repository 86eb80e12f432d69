"""Privacy: consent per channel and identifiers that leave the platform only as hashes."""
