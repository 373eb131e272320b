"""The built-in demo catalog (``--demo``) and its mock upstream servers."""
