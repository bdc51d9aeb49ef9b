"""The import layers of docs/architecture.md, checked on the source: harnesses -> fuzz -> proxy,
and inside proxy/ assembly -> HTTP extensions -> HTTP -> network extensions -> network -> core,
never back; no import cycle anywhere; and in proxy/ an import of our own code inside a function
says why it is not at the top.

Read from the files with ast (nothing is imported), so the check sees lazy imports too."""

import ast
import sys
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("proxy", "fuzz", "harnesses")

# proxy/ layers, lowest first; a module takes the layer of its longest listed prefix.
CORE, NETWORK, NETWORK_EXT, HTTP, HTTP_EXT, ASSEMBLY = range(6)
LAYERS = {
    "proxy": CORE,
    "proxy.buffer": CORE,
    "proxy.event": CORE,
    "proxy.stats": CORE,
    "proxy.context": CORE,
    "proxy.config": CORE,
    "proxy.build_context": CORE,
    # what a configuration means, standard library only: config validation uses them
    "proxy.network.chain_match": CORE,
    "proxy.tls.context": CORE,
    "proxy.network": NETWORK,
    "proxy.tls": NETWORK,
    "proxy.upstream": NETWORK,
    "proxy.network.filters": NETWORK_EXT,
    "proxy.network.listener_filters": NETWORK_EXT,
    "proxy.http": HTTP,
    "proxy.http.filters.router": HTTP,  # the router is implicit in every HCM
    "proxy.upstream.pool": HTTP,
    "proxy.upstream.pool_conn": HTTP,
    "proxy.http.filters": HTTP_EXT,
    "proxy.extensions": ASSEMBLY,
    "proxy.build": ASSEMBLY,
    "proxy.server": ASSEMBLY,
    "proxy._server_socket": ASSEMBLY,
    "proxy.admin": ASSEMBLY,
    "proxy.workers": ASSEMBLY,
    "proxy.shared_buckets": ASSEMBLY,
    "proxy.serve": ASSEMBLY,
    "proxy.__main__": ASSEMBLY,
    "proxy.tools": ASSEMBLY,
}
LAYER_NAMES = ("core", "network", "network extensions", "HTTP", "HTTP extensions", "assembly")
TOP = {"proxy": 0, "fuzz": 1, "harnesses": 2}


@cache
def modules() -> dict:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT).with_suffix("")
            parts = list(rel.parts)
            if "gen" in parts[:-1]:
                found[".".join(parts[: parts.index("gen") + 1])] = path  # generated code: a leaf
                continue
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _resolve(name: str):
    """The module of ours that `name` (a module, or a name inside one) refers to, or None."""
    while name and name not in modules():
        name = name.rpartition(".")[0]
    return name or None


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


@cache
def imports() -> dict:
    """module -> [(target module, lazy, line, comment-carrying source lines)] of our own code."""
    out = {}
    for module, path in modules().items():
        source = path.read_text()
        lines = source.splitlines()
        tree = ast.parse(source)
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        top = {
            id(n)
            for stmt in tree.body
            if not isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
            for n in ast.walk(stmt)
        }
        # imports under `if TYPE_CHECKING:` never run: annotations may name a higher layer's types
        typing_only = {
            id(n)
            for stmt in ast.walk(tree)
            if isinstance(stmt, ast.If) and _is_type_checking(stmt.test)
            for body in stmt.body
            for n in ast.walk(body)
        }
        found = []
        for node in ast.walk(tree):
            if id(node) in typing_only:
                continue
            if isinstance(node, ast.Import):
                targets = [_resolve(a.name) for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(parts + ([node.module] if node.module else []))
                # `from pkg import submodule` depends on the submodule, not on pkg's __init__
                targets = [
                    _resolve(f"{base}.{a.name}") if f"{base}.{a.name}" in modules() else _resolve(base)
                    for a in node.names
                ]
            else:
                continue
            near = "\n".join(lines[max(0, node.lineno - 3) : node.end_lineno])
            for target in dict.fromkeys(t for t in targets if t and t != module):
                found.append((target, id(node) not in top, node.lineno, near))
        out[module] = found
    return out


def layer(module: str) -> int:
    best = max((prefix for prefix in LAYERS if module == prefix or module.startswith(prefix + ".")), key=len)
    return LAYERS[best]


def test_every_proxy_module_has_a_layer():
    for module in modules():
        if module.startswith("proxy"):
            layer(module)  # raises ValueError (max of nothing) for a module outside every prefix


def test_harnesses_use_fuzz_and_proxy_and_fuzz_uses_proxy_never_back():
    wrong = [
        f"{m}:{line} imports {t}"
        for m, found in imports().items()
        for t, _, line, _ in found
        if TOP[t.split(".")[0]] > TOP[m.split(".")[0]]
    ]
    assert wrong == []


def test_inside_proxy_every_import_goes_down_or_sideways():
    wrong = [
        f"{m}:{line} ({LAYER_NAMES[layer(m)]}) imports {t} ({LAYER_NAMES[layer(t)]})"
        for m, found in imports().items()
        if m.startswith("proxy")
        for t, _, line, _ in found
        if t.startswith("proxy") and layer(t) > layer(m)
    ]
    assert wrong == []


def test_no_import_cycles():
    graph = {m: sorted({t for t, *_ in found}) for m, found in imports().items()}
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []

    def visit(v):  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    assert cycles == []


def test_lazy_imports_of_our_own_code_in_proxy_say_why():
    """Top-level imports only; an import inside a function carries a `lazy:` comment with the reason."""
    silent = [
        f"{m}:{line} imports {t}"
        for m, found in imports().items()
        if m.startswith("proxy")
        for t, lazy, line, near in found
        if lazy and "lazy:" not in near
    ]
    assert silent == []


def test_the_checks_fail_on_planted_imports(monkeypatch):
    """Each check above can fail: an HTTP import planted in the network layer (upward, and a cycle
    since HTTP imports the network layer), then made lazy without a reason; a fuzz import in proxy."""
    found = dict(imports())
    planted = "proxy.network.connection"
    found[planted] = found[planted] + [("proxy.http.conn_manager", False, 1, "")]
    monkeypatch.setattr(sys.modules[__name__], "imports", lambda: found)
    with pytest.raises(AssertionError):
        test_inside_proxy_every_import_goes_down_or_sideways()
    with pytest.raises(AssertionError):
        test_no_import_cycles()
    found[planted][-1] = ("proxy.http.conn_manager", True, 1, "")
    with pytest.raises(AssertionError):
        test_lazy_imports_of_our_own_code_in_proxy_say_why()
    found["proxy.stats"] = found["proxy.stats"] + [("fuzz.oracles", False, 1, "")]
    with pytest.raises(AssertionError):
        test_harnesses_use_fuzz_and_proxy_and_fuzz_uses_proxy_never_back()


def test_imports_under_type_checking_are_left_out():
    """proxy.context names the cluster manager's type for annotations only (`if TYPE_CHECKING:`)."""
    targets = {t for t, *_ in imports()["proxy.context"]}
    assert "proxy.event" in targets and "proxy.upstream.cluster" not in targets
