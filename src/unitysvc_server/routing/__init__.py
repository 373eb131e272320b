"""Routing: choosing the service and upstream channel that serve a request."""
