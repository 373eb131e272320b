"""The base class of every wire model."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class WireModel(BaseModel):
    """Base of all request and response models of the UnitySVC API.

    Unknown fields from a newer server are kept (``extra="allow"``) rather than
    rejected, so an older SDK keeps working against a newer platform. Schemas are
    built on first use (``defer_build``) to keep ``import unitysvc`` fast.
    """

    model_config = ConfigDict(extra="allow", defer_build=True, populate_by_name=True)
