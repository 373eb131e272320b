"""The built-in demo (``--demo``): its catalog and the mock upstream servers it routes to."""
