"""The catalog component: loads catalogs and groups at start, runs the demo upstreams.

Publishes:

* ``runtime.catalog`` -- the :class:`~unitysvc_server.catalog.model.Catalog`;
* ``runtime.demo_upstreams`` -- the mock upstream base URL (``--demo`` only).
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from unitysvc_server.catalog.groups import all_services_group, load_groups_file
from unitysvc_server.catalog.loader import load_catalogs
from unitysvc_server.catalog.model import Catalog, CatalogGroup, CatalogService
from unitysvc_server.demo.catalog import demo_groups, demo_services
from unitysvc_server.runtime import Runtime

if TYPE_CHECKING:
    from unitysvc_server.demo.upstreams import DemoUpstreams

logger = logging.getLogger(__name__)


class CatalogComponent:
    """Loads the catalog (demo, ``--catalog`` dirs, ``--groups``) into the runtime."""

    def __init__(self) -> None:
        self._upstreams: DemoUpstreams | None = None

    async def start(self, runtime: Runtime) -> None:
        """Start the demo upstreams (``--demo``) and load everything.

        Raises:
            CatalogError: A catalog directory cannot be loaded.
            GroupsFileError: The groups file is invalid.
            ValueError: Catalogs collide (same service id or name).
        """
        try:
            runtime.catalog = await self._load(runtime)
        except BaseException:
            # The runtime only stops components that started: clean up here.
            await self.stop(runtime)
            raise
        logger.info(
            "catalog: %d service(s), %d group(s)",
            len(runtime.catalog.services),
            len(runtime.catalog.groups),
        )

    async def _load(self, runtime: Runtime) -> Catalog:
        settings = runtime.settings
        services: list[CatalogService] = []
        groups: list[CatalogGroup] = []
        if settings.demo:
            # Imported for --demo only: the mock upstreams run on aiohttp, which a
            # platform serving real catalogs never needs to load.
            from unitysvc_server.demo.upstreams import DemoUpstreams

            self._upstreams = DemoUpstreams()
            base = await self._upstreams.start()
            runtime.demo_upstreams = base
            services.extend(demo_services(base))
            logger.info("demo upstreams listening on %s", base)
        # Reading and validating catalog files is blocking work.
        services.extend(await asyncio.to_thread(load_catalogs, settings.catalogs))
        if settings.demo:
            groups.extend(demo_groups(services))
        if settings.groups_file is not None:
            groups.extend(await asyncio.to_thread(load_groups_file, settings.groups_file, services))
        groups.append(all_services_group(services))
        return Catalog(services, groups, settings.gateway_url)

    async def stop(self, runtime: Runtime) -> None:
        """Stop the demo upstreams."""
        if self._upstreams is not None:
            await self._upstreams.stop()
            self._upstreams = None
        runtime.demo_upstreams = None
