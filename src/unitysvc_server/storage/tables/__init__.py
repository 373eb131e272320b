"""All ORM tables, one module per resource.

Importing this package imports every module in it, so ``Base.metadata`` is
complete for Alembic and the migration test no matter which helper added a
table last.
"""

from __future__ import annotations

import importlib
import pkgutil

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
