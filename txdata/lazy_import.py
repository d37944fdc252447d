"""Heavy modules bound by name now and imported at their first use.

Describing txdata (its objectives, their options, the config dataclasses) needs none of torch,
datasets, pyarrow or numpy, and importing them costs seconds (`bench/cli_startup.py` times
`import torch`): without this, `import txdata` and `txdata --help` would pay for them. A
module of txdata that uses one binds it with `torch = lazy_import("torch", globals())` after
its imports. The first attribute read imports the real module and puts it in place of the
stand-in, so every later read is an ordinary module attribute, at no cost in the hot loops of
collation.

Why not `importlib.util.LazyLoader`: it must register its stand-in in `sys.modules`, where
other libraries look to decide whether torch is in use (datasets' hashing does); this one is
seen only by the module that holds it. PEP 810's `lazy import torch` (Python 3.15) would
replace both.

>>> names = {}
>>> names["json"] = lazy_import("json", names)
>>> names["json"]
<lazy module 'json'>
>>> names["json"].dumps([1])  # the first use imports json...
'[1]'
>>> import json
>>> names["json"] is json  # ...and binds the name to the module itself
True
>>> import pickle
>>> pickle.loads(pickle.dumps(lazy_import("json", {}))) is json
True
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any


class LazyModule(ModuleType):
    """Stands in for the module `name` in `namespace` until an attribute of it is read."""

    def __init__(self, name: str, namespace: dict[str, Any]) -> None:
        super().__init__(name)
        self._namespace = namespace

    def __getattr__(self, attribute: str) -> Any:
        module = importlib.import_module(self.__name__)
        namespace = self.__dict__["_namespace"]  # not through getattr: no recursion if absent
        for key, value in list(namespace.items()):
            if value is self:
                namespace[key] = module
        return getattr(module, attribute)

    def __reduce__(self) -> tuple:
        # Pickled (datasets hashes what `map` is given), it is the module it stands for.
        return importlib.import_module, (self.__name__,)

    def __repr__(self) -> str:
        return f"<lazy module {self.__name__!r}>"


def lazy_import(name: str, namespace: dict[str, Any]) -> ModuleType:
    """A stand-in for the module `name`, to bind in `namespace` (a module's `globals()`)."""
    return LazyModule(name, namespace)
