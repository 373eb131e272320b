"""Wrapper stages of the gateway pipeline: each one is ``Stage(inner) -> Handler``."""
