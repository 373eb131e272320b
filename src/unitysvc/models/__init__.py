"""Typed models of every request and response of the UnitySVC customer API.

Generated from the platform's OpenAPI contract (``scripts/generate_models.py``) and
shared with ``unitysvc_server``, so client and server agree on every field. Unknown
fields from a newer server are kept (``model.model_extra``), never an error.
"""

from unitysvc.models._base import WireModel
from unitysvc.models._generated import *  # noqa: F403
from unitysvc.models._generated import __all__ as _generated_names

__all__ = ["WireModel", *_generated_names]
