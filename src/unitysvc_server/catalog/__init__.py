"""The catalog: services, groups and their upstreams, loaded at start (never stored)."""
