"""The terminal client: one sink of the typed event stream (``cli.main``), plus ``compare``."""
