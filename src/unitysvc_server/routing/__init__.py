"""Routing: the gateway path grammar and choosing the service and channel for a request.

Pure: no database, network or server framework (``pure`` import contract); what depends
on the caller (their secrets, enrollments, collections) is looked up by
``domain.addresses`` and handed in.
"""
