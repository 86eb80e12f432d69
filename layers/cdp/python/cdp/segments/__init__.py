"""Segments: rules over profiles and features, and the log of who entered or left each segment."""
