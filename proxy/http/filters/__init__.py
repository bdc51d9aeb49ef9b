"""Built-in HTTP filters. Importing this package registers each of them (the router is implicit)."""

import importlib
import pkgutil

for _info in pkgutil.iter_modules(__path__):
    if not _info.name.startswith("_") and _info.name != "router":
        importlib.import_module(f"{__name__}.{_info.name}")
