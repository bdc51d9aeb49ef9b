"""Mutation operators on one function of a proxy module, and the code object of a mutant.

A mutation point is a node of a function's AST that one small, realistic edit changes: a comparison
flipped at its boundary or negated, `and` for `or`, a `not` dropped, an integer off by one, a boolean
constant inverted, `+` for `-`, a call or assignment statement left out. Points are numbered in
`ast.walk` order of the function, so (qualname, index) names a mutant for as long as the source
stands. Applying one rebuilds only that function's code object, compiled inside a class of the same
name for a method (private names and `super()` stay as they were), with the original line numbers,
so tracebacks and triage still point into the module's file.
"""

import ast
import copy
import inspect
from dataclasses import dataclass
from types import CodeType

_COMPARE = {
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
}
_BOOLOP = {ast.And: ast.Or, ast.Or: ast.And}
_BINOP = {ast.Add: ast.Sub, ast.Sub: ast.Add}


@dataclass(frozen=True)
class Mutant:
    qualname: str  # Class.method or function
    index: int  # the point's number within the function
    line: int
    kind: str  # compare, boolop, not, int, bool, arith, skip
    before: str
    after: str

    def describe(self) -> str:
        return f"{self.qualname}:{self.line} {self.kind}: {self.before} -> {self.after}"


def functions(tree: ast.Module) -> list[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef, str | None]]:
    """(qualname, node, enclosing class name) of the module's functions and its classes' methods."""
    out: list = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            out.append((node.name, node, None))
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    out.append((f"{node.name}.{item.name}", item, node.name))
    return out


def _points(fn) -> list:
    """Every (node, kind, apply) in `fn`, in walk order; apply() edits the function in place and
    returns the (before, after) source of the edited node."""
    points: list = []
    parents = {child: node for node in ast.walk(fn) for child in ast.iter_child_nodes(node)}
    for node in ast.walk(fn):
        if node is fn:
            continue
        if isinstance(node, ast.Compare):
            for i, op in enumerate(node.ops):
                if type(op) in _COMPARE:
                    points.append((node, "compare", _swap_compare(node, i)))
        elif isinstance(node, ast.BoolOp):
            points.append((node, "boolop", _swap_attr(node, "op", _BOOLOP[type(node.op)]())))
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            points.append((node, "not", _drop_not(node, parents[node])))
        elif isinstance(node, ast.BinOp) and type(node.op) in _BINOP and not _text(node):
            points.append((node, "arith", _swap_attr(node, "op", _BINOP[type(node.op)]())))
        elif isinstance(node, ast.Constant) and type(node.value) is bool:
            points.append((node, "bool", _swap_attr(node, "value", not node.value)))
        elif isinstance(node, ast.Constant) and type(node.value) is int:
            points.append((node, "int", _swap_attr(node, "value", node.value + 1)))
        for field in ("body", "orelse", "finalbody"):
            body = getattr(node, field, None)
            if isinstance(body, list):
                for i, stmt in enumerate(body):
                    if _skippable(stmt):
                        points.append((stmt, "skip", _skip(body, i)))
    for i, stmt in enumerate(fn.body):
        if _skippable(stmt):
            points.append((stmt, "skip", _skip(fn.body, i)))
    return points


def _text(node) -> bool:
    """A `+` that joins strings: `-` there is a TypeError at once, not a realistic bug."""
    sides = (node.left, node.right)
    return any(
        isinstance(n, ast.JoinedStr) or (isinstance(n, ast.Constant) and isinstance(n.value, str)) for n in sides
    )


def _skippable(stmt) -> bool:
    """A call made for its effect, or an assignment to an attribute or an augmented one."""
    if isinstance(stmt, ast.Expr):
        return isinstance(stmt.value, ast.Call)
    if isinstance(stmt, ast.AugAssign):
        return True
    return isinstance(stmt, ast.Assign) and all(isinstance(t, (ast.Attribute, ast.Subscript)) for t in stmt.targets)


def _swap_compare(node, i):
    def apply():
        before = ast.unparse(node)
        node.ops[i] = _COMPARE[type(node.ops[i])]()
        return before, ast.unparse(node)

    return apply


def _swap_attr(node, attr, value):
    def apply():
        before = ast.unparse(node)
        setattr(node, attr, value)
        return before, ast.unparse(node)

    return apply


def _drop_not(node, parent):
    def apply():
        for field, value in ast.iter_fields(parent):
            if value is node:
                setattr(parent, field, node.operand)
            elif isinstance(value, list):
                value[:] = [node.operand if v is node else v for v in value]
        return ast.unparse(node), ast.unparse(node.operand)

    return apply


def _skip(body, i):
    def apply():
        before = ast.unparse(body[i])
        body[i] = ast.copy_location(ast.Pass(), body[i])
        return before, "pass"

    return apply


def mutants_of(source: str) -> list[Mutant]:
    """Every mutant of every function of the module `source`."""
    out = []
    for qualname, fn, _ in functions(ast.parse(source)):
        for index, (node, kind, _) in enumerate(_points(fn)):
            # Applying edits the tree in place: describe each point on a copy of its function only.
            before, after = _points(copy.deepcopy(fn))[index][2]()
            out.append(Mutant(qualname, index, node.lineno, kind, _short(before), _short(after)))
    return out


def _short(text: str, limit: int = 70) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _function(tree, qualname: str):
    for name, fn, cls in functions(tree):
        if name == qualname:
            return fn, cls
    raise KeyError(qualname)


def mutated_code(source: str, filename: str, qualname: str, index: int) -> CodeType:
    """The code object of `qualname` with mutation point `index` applied."""
    tree = ast.parse(source, filename)
    fn, cls = _function(tree, qualname)
    _points(fn)[index][2]()
    fn.decorator_list = []
    holder: ast.stmt = fn if cls is None else ast.ClassDef(cls, [], [], [fn], [])
    module = ast.Module([ast.fix_missing_locations(ast.copy_location(holder, fn))], [])
    code = compile(ast.fix_missing_locations(module), filename, "exec")
    if cls is not None:
        code = next(c for c in code.co_consts if isinstance(c, CodeType) and c.co_name == cls)
    return next(c for c in code.co_consts if isinstance(c, CodeType) and c.co_name == fn.name)


def target_function(module, qualname: str):
    """The function object `qualname` names in `module` (through property, staticmethod, classmethod)."""
    owner, name = (
        (module, qualname) if "." not in qualname else (getattr(module, qualname.split(".")[0]), qualname.split(".")[1])
    )
    attr = owner.__dict__[name] if isinstance(owner, type) else getattr(owner, name)
    if isinstance(attr, property):
        attr = attr.fget
    return getattr(attr, "__func__", attr)


def planted(module, qualname: str, before: str, line: int | None = None) -> CodeType:
    """The code object of the mutant of `module`'s `qualname` whose edit starts from the source
    `before` (as Mutant.before prints it), on `line` where `before` occurs more than once (a `False`):
    tests plant a class of bug the bench found this way."""
    source = inspect.getsource(module)
    m = next(
        m
        for m in mutants_of(source)
        if m.qualname == qualname and m.before == before and (line is None or m.line == line)
    )
    return mutated_code(source, module.__file__, qualname, m.index)
