"""Put atheris's coverage counters on exactly the chosen modules.

atheris.instrument_imports() selects by top-level package, so `proxy.http.h1` alone cannot be
chosen with it. This module installs its own meta-path finder: for a chosen module it asks the
finders after it for the real spec, then wraps the loader so `get_code` returns the module's code
rewritten as atheris does, less the counters of branch-free functions (fuzz/instrument/rewrite.py). Counters are counted by
wrapping atheris's counter allocation (fuzz/private_api.py), called once per counter the rewrite adds.
A module's rewrite is cached on disk across processes (fuzz/instrument/code_cache.py).
"""

import contextlib
import gc
import sys
import types
from dataclasses import dataclass, field
from importlib import abc, machinery

from fuzz.instrument import code_cache, rewrite
from fuzz.private_api import counting_counters, is_instrumentable


@dataclass
class ModuleCount:
    functions: int = 0
    counters: int = 0
    in_place: bool = False  # already imported: its functions were rewritten where they live


@dataclass
class Report:
    policy: str
    modules: dict = field(default_factory=dict)  # module name -> ModuleCount

    @property
    def functions(self) -> int:
        return sum(m.functions for m in self.modules.values())

    @property
    def counters(self) -> int:
        return sum(m.counters for m in self.modules.values())

    def as_dict(self) -> dict:
        return {
            "policy": self.policy,
            "functions": self.functions,
            "counters": self.counters,
            "modules": {k: vars(v) for k, v in sorted(self.modules.items())},
        }


def count_functions(code: types.CodeType) -> int:
    """Function and lambda bodies nested in a code object, as atheris.patch_code recurses into them
    (it skips comprehension bodies such as <listcomp>); the code object itself is not counted."""
    n = 0
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            name = const.co_name
            if name == "<lambda>" or not (name.startswith("<") and name.endswith(">")):
                n += 1 + count_functions(const)
    return n


def patch(code: types.CodeType, count: ModuleCount) -> types.CodeType:
    with counting_counters() as seen:
        patched = rewrite.patch_code(code)
    count.counters += seen[0]
    count.functions += count_functions(code)
    return patched


def patch_module(code: types.CodeType, source: bytes | None, count: ModuleCount) -> types.CodeType:
    """patch() for a module's whole code as it is imported, through the cache of rewrites
    (fuzz/instrument/code_cache.py; `source` keys it, None: not cached)."""
    done = code_cache.rewritten(code, source, count_functions)
    count.counters += done.counters
    count.functions += done.functions
    return done.code


def _source(loader, fullname: str) -> bytes | None:
    try:
        return loader.get_data(loader.get_filename(fullname))
    except (AttributeError, ImportError, OSError):
        return None  # a loader without files: rewritten every time


def _wrap_loader(loader, name: str, report: Report):
    """A loader like `loader` whose get_code is rewritten; composition keeps custom loaders working."""
    base = type(loader)

    class _Patching(base):  # type: ignore[valid-type, misc]  # the loader's own class, known only at run time
        def get_code(self, fullname):
            code = super().get_code(fullname)
            if code is None:
                return None
            return patch_module(code, _source(self, fullname), report.modules.setdefault(fullname, ModuleCount()))

    wrapped = _Patching.__new__(_Patching)
    wrapped.__dict__.update(loader.__dict__)
    return wrapped


class SelectingFinder(abc.MetaPathFinder):
    """Meta-path finder that rewrites the modules `select(name, spec)` accepts."""

    def __init__(self, select, report: Report):
        self._select = select
        self._report = report

    def find_spec(self, fullname, path, target=None):
        found_self = False
        for finder in sys.meta_path:
            if not found_self:
                found_self = finder is self
                continue
            find = getattr(finder, "find_spec", None)
            if find is None:
                continue
            spec = find(fullname, path, target)
            if spec is None or spec.loader is None:
                continue
            if isinstance(spec.loader, machinery.ExtensionFileLoader) or not hasattr(spec.loader, "get_code"):
                return None  # native code: no Python bytecode to count
            if not self._select(fullname, spec):
                return None
            spec.loader = _wrap_loader(spec.loader, fullname, self._report)
            return spec
        return None

    def invalidate_caches(self):
        pass


@contextlib.contextmanager
def installed(select, report: Report):
    """Install a SelectingFinder ahead of the path finders for the duration of the block."""
    finder = SelectingFinder(select, report)
    index = 0
    while index < len(sys.meta_path) and sys.meta_path[index] in (machinery.BuiltinImporter, machinery.FrozenImporter):
        index += 1
    sys.meta_path.insert(index, finder)
    try:
        yield finder
    finally:
        sys.meta_path.remove(finder)


def instrument_loaded_module(module: types.ModuleType, report: Report) -> None:
    """Rewrite, in place, the functions a module already imported defines (module body already ran)."""
    count = report.modules.setdefault(module.__name__, ModuleCount())
    count.in_place = True
    seen = set()

    def visit(obj):
        if id(obj) in seen:
            return
        seen.add(id(obj))
        if isinstance(obj, types.FunctionType) and obj.__module__ == module.__name__:
            obj.__code__ = patch(obj.__code__, count)
            count.functions += 1  # patch() counted nested bodies; add the function itself
        elif isinstance(obj, type) and obj.__module__ == module.__name__:
            for attr in vars(obj).values():
                if isinstance(attr, (staticmethod, classmethod)):
                    attr = attr.__func__
                elif isinstance(attr, property):
                    for accessor in (attr.fget, attr.fset, attr.fdel):
                        if accessor is not None:
                            visit(accessor)
                    continue
                visit(attr)

    for value in list(vars(module).values()):
        visit(value)


def instrument_everything(report: Report) -> None:
    """Policy `all`: atheris.instrument_all() over everything loaded, counted."""
    import atheris

    functions = sum(1 for obj in gc.get_objects() if is_instrumentable(obj))
    with counting_counters() as seen, contextlib.redirect_stdout(sys.stderr):
        atheris.instrument_all()
    report.modules["*"] = ModuleCount(functions=functions, counters=seen[0])
