"""Features: facts (orders, web events) attributed to profiles, and behaviour computed from them as of a date."""
