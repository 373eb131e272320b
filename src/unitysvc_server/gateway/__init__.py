"""The gateway: every non-``/v1`` path, proxied through a pipeline of wrapper stages.

``asgi`` authenticates, limits and parses; ``dispatcher`` runs the stages (``stages/``)
around the core (``catalog_router`` for catalog addresses, ``routing_objects`` for
aliases, chains and broadcasts); ``upstream``/``h1client`` make the call. It reads and
writes the database only through ``domain``, as values; ``component`` wires it into the
runtime.
"""
