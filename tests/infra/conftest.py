"""The synthesized stack comes from tests/conftest.py (`synthesized`), shared with the cloud tests."""
