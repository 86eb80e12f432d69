"""Golden profiles: one row per person, each field chosen by its survivorship rule."""
