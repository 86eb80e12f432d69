"""Bindings of the ports to concrete systems: pyiceberg catalogs, a local event bus, EventBridge."""
