"""The catalog: services, groups and their upstreams, loaded at start (never stored).

Pure: no database, network or server framework (``pure`` import contract).
"""
