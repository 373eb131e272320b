"""The use cases, one module per resource: what the API and the gateway ask of the platform.

Functions take an ``AsyncSession`` (or a session factory) and the values they need, and
return wire models or frozen values (never ORM rows to the gateway). Below: ``storage``,
``routing`` and ``catalog``; nothing here imports the API, the gateway or the runtime.
"""
