"""Every query the server runs, one module per resource (named like its ``domain`` module).

Domain use cases decide *what* to read and write; the functions here say *how*: they
take the session of the unit of work (:data:`unitysvc_server.storage.session.Session`),
build the SQLAlchemy statement, run it and return rows or plain values. Nothing above
``storage`` imports SQLAlchemy (the ``storage-queries`` import contract), so this package
is the one place to look for a query, an index it needs, or a dialect difference.

A unique-constraint violation leaves a query as :class:`~unitysvc_server.storage.errors.Duplicate`,
never as a driver exception.
"""
