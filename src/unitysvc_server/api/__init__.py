"""The control-plane API under ``/v1``: HTTP in and out, every use case delegated to ``domain``."""
