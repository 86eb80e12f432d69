"""Activation: segment changes turned into events for consented channels, with a hold-out group."""
