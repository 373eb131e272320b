"""Storage: SQLAlchemy tables, the database engine and migrations, and the object store.

The bottom of the server: ``domain`` is the only room above it that imports it; the
gateway and the API reach it through ``domain``.
"""
