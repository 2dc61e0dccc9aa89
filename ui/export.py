r"""What the Export tab offers as downloads: the graph at a step (DOT), the trace (JSON), a Python script.

Pure functions, no Streamlit: ``export_dot``, ``export_json``, ``export_python``. The DOT is the
view model's looks at step t (``view.GraphView`` through ``dot.digraph``), the very description
the page draws; the SVG of the graph is saved by the page itself, from what is on screen. Every
failure the user can cause (a trace from a JSON file that the script writer cannot express) is an
``ExportError`` with a plain sentence, for the app to show.
"""

from __future__ import annotations

import ast
import builtins
import keyword
import math
import re
import unicodedata

import numpy as np

import core
from core.errors import AutodiffError
from core.ops import OPS
from core.trace import Trace

from .dot import digraph
from .view import GraphView


class ExportError(AutodiffError):
    """An export that cannot be made; the message says why, in a sentence the app can show."""



# ---- DOT --------------------------------------------------------------------------------------------


def _clean_line(line: str) -> str:
    """One line of user text made safe inside a comment: tabs as spaces, every other non-printable
    character (control, bidi override, lone surrogate) as a visible \\u escape."""
    out = []
    for ch in line.replace("\t", "    "):
        if ch.isprintable():
            out.append(ch)
        else:
            code = ord(ch)
            out.append(f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}")
    return "".join(out)


def _comment_block(text: str, prefix: str) -> list:
    return [f"{prefix}    {_clean_line(line)}".rstrip() for line in text.splitlines()]


def _clamp(trace: Trace, t: int) -> int:
    return min(max(int(t), 0), trace.t_end)


def _seed(trace: Trace, words: str) -> str:
    """' (seed 3)'-style text for an integer seed, else nothing (a trace from JSON may hold anything)."""
    seed = trace.seed
    return f"{words}{seed}" if isinstance(seed, int) and not isinstance(seed, bool) else ""


def dot_header(trace: Trace, t: int) -> str:
    """The comment lines ``export_dot`` puts before the graph: step, seed and program."""
    t = _clamp(trace, t)
    lines = [f"// Backprop Studio: the graph at t = {t} of {trace.t_end} ({trace.phase_label(t)})"]
    if trace.program is not None:
        seed = _seed(trace, " seed ")
        lines.append(f"// The program{f' ({seed.strip()})' if seed else ''}:")
        lines += _comment_block(trace.program, "//")
    return "\n".join(lines) + "\n"


def export_dot(trace: Trace, t: int, rankdir: str = "TB") -> str:
    """The graph at step ``t`` as Graphviz DOT (the view model's looks at t, as the page shows
    them), after a comment header."""
    t = _clamp(trace, t)
    return dot_header(trace, t) + digraph(GraphView(trace), t, rankdir=rankdir).source


# ---- JSON ------------------------------------------------------------------------------------------


def export_json(trace: Trace) -> str:
    """The trace in its documented JSON format (docs/trace-format.md)."""
    return trace.to_json(indent=1)


# ---- Python ----------------------------------------------------------------------------------------

# Names the script defines or uses at module level; a user's name that is one of them (or a
# builtin, or a keyword) is replaced by v{id} / c{id}.
_RESERVED = frozenset({"ad", "np", "json", "sys", "core", "numpy", "f", "main", "INPUTS", "NAMES"}) | frozenset(
    dir(builtins))
_FALLBACK = re.compile(r"[vc]\d+")
_INFIX = {"add": "+", "subtract": "-", "multiply": "*", "divide": "/", "power": "**", "matmul": "@"}
_INT_TYPES = frozenset({"int8", "int16", "int32", "int64", "intp", "uint8", "uint16", "uint32", "uint64", "uintp"})
_LINE = 100


def _identifier(name, taken: set, fallback: str) -> str | None:
    """``name`` as Python will read it (NFKC), if it is a usable, free identifier; else None."""
    if not isinstance(name, str):
        return None
    name = unicodedata.normalize("NFKC", name)
    if (not name.isidentifier() or keyword.iskeyword(name) or name.startswith("_") or name in _RESERVED
            or name in taken or (_FALLBACK.fullmatch(name) and name != fallback)):
        return None
    return name


def python_names(trace: Trace) -> dict:
    """node id -> the identifier the exported script uses for it.

    A user's name is kept when it is a valid Python identifier (after the NFKC normalization
    Python applies to identifiers), not a keyword, builtin or name the script itself uses, and not
    taken by an earlier node; otherwise the node is ``v{id}`` (``c{id}`` for a constant).
    """
    input_names = {node_id: name for name, node_id in trace.inputs.items()}
    names, taken = {}, set()
    for node in trace.nodes:
        constant = node.op is None and node.id not in input_names
        fallback = f"{'c' if constant else 'v'}{node.id}"
        name = node.name if node.name is not None else input_names.get(node.id)
        names[node.id] = _identifier(name, taken, fallback) or fallback
        taken.add(names[node.id])
    return names


def _tuple(items: list) -> str:
    return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"


def _float(x) -> str:
    x = float(x)
    if math.isnan(x):
        return "np.nan"
    if math.isinf(x):
        return "np.inf" if x > 0 else "-np.inf"
    return repr(x)  # shortest text that reads back to the very same double


def _nested(a: np.ndarray, indent: int) -> str:
    """A float array as nested list text, wrapped to about ``_LINE`` characters."""
    pad = " " * (indent + 4)
    if a.ndim == 1:
        items = [_float(v) + "," for v in a.tolist()]
        one = "[" + " ".join(items)[:-1] + "]"
        if len(one) + indent <= _LINE:
            return one
        lines, current = [], ""
        for item in items:
            if current and len(pad) + len(current) + 1 + len(item) > _LINE:
                lines.append(current)
                current = item
            else:
                current = f"{current} {item}" if current else item
        lines.append(current)
        return "[\n" + "".join(pad + line + "\n" for line in lines) + " " * indent + "]"
    parts = [_nested(sub, indent + 4) for sub in a]
    one = "[" + ", ".join(parts) + "]"
    if "\n" not in one and len(one) + indent <= _LINE:
        return one
    return "[\n" + "".join(pad + part + ",\n" for part in parts) + " " * indent + "]"


def _array(value, indent: int = 0) -> str:
    """Python source for a value, bit-identical when run: a float or an ``np.array`` literal."""
    a = np.asarray(value, dtype=np.float64)
    if a.ndim == 0:
        return _float(a)
    if a.size == 0:
        return f"np.zeros({tuple(a.shape)!r})"
    return f"np.array({_nested(a, indent)}, dtype=float)"


class _Unsafe(Exception):
    pass


_SAFE_STRING = re.compile(r"[A-Za-z ,.\->]{0,100}")


def _attr_source(text: str, subscript: bool = False, strings: bool = False) -> str:
    """Python source for an op attribute's repr text (``"0"``, ``"(slice(None, 2, None), -1)"``).

    The text is parsed and rebuilt from a whitelist (numbers, None, booleans, Ellipsis, tuples,
    lists, ``slice(...)``, integer arrays; with ``strings``, short strings of letters and ``, . - >``,
    for einsum's subscripts and norm's ord): nothing else read from a trace reaches the script. With
    ``subscript``, the result is the inside of ``x[...]`` (``:2, -1``).
    """
    def number(node) -> str:
        if isinstance(node, ast.Constant) and type(node.value) in (int, float, bool) or (
                isinstance(node, ast.Constant) and node.value is None):
            return repr(node.value) if type(node.value) is not float else _float(node.value)
        if isinstance(node, ast.Name) and node.id == "inf":  # norm's ord=inf
            return "np.inf"
        if strings and isinstance(node, ast.Constant) and type(node.value) is str and (
                _SAFE_STRING.fullmatch(node.value)):
            return repr(node.value)  # einsum's subscripts, norm's ord='fro'
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Name):
            return "-" + number(node.operand)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)) and isinstance(
                node.operand, ast.Constant) and type(node.operand.value) in (int, float):
            return ("-" if isinstance(node.op, ast.USub) else "") + number(node.operand)
        if isinstance(node, ast.Call) and not node.keywords and len(node.args) == 1 and _callee(node) in (
                _INT_TYPES | {"int", "bool_", "bool"}):
            return number(node.args[0])
        if isinstance(node, ast.Attribute) and _numpy_name(node) in ("True_", "False_"):
            return "True" if node.attr == "True_" else "False"
        raise _Unsafe

    def numbers(node) -> str:  # a (nested) list of numbers, the data of an index array
        if isinstance(node, ast.List):
            return "[" + ", ".join(numbers(e) for e in node.elts) + "]"
        return number(node)

    def item(node, top: bool) -> str:
        if isinstance(node, ast.Constant) and node.value is Ellipsis or (
                isinstance(node, ast.Name) and node.id == "Ellipsis"):
            return "..." if top and subscript else "Ellipsis"
        if isinstance(node, ast.Call) and _callee(node) == "slice" and not node.keywords and len(node.args) <= 3:
            parts = [number(a) for a in node.args]
            if len(parts) == 1:  # slice(stop)
                parts = ["None", parts[0], "None"]
            if top and subscript:
                parts = [("" if p == "None" else p) for p in parts] + [""] * (2 - len(parts))
                return ":".join(parts[:2]) + (f":{parts[2]}" if len(parts) > 2 and parts[2] else "")
            return f"slice({', '.join(parts)})"
        if isinstance(node, ast.Call) and _callee(node) == "array" and len(node.args) == 1:
            for kw in node.keywords:
                if kw.arg != "dtype" or _numpy_name(kw.value) not in _INT_TYPES | {"bool", "bool_"}:
                    raise _Unsafe
            return f"np.array({numbers(node.args[0])})"
        if isinstance(node, (ast.Tuple, ast.List)):
            inner = [item(e, False) for e in node.elts]
            if isinstance(node, ast.List):
                return "[" + ", ".join(inner) + "]"
            return "(" + ", ".join(inner) + ("," if len(inner) == 1 else "") + ")"
        return number(node)

    try:
        tree = ast.parse(text.strip(), mode="eval").body
        if subscript and isinstance(tree, ast.Tuple):
            parts = [item(e, True) for e in tree.elts]
            return "()" if not parts else ", ".join(parts) + ("," if len(parts) == 1 else "")
        return item(tree, True)
    except (SyntaxError, ValueError, RecursionError, MemoryError, _Unsafe, AttributeError, TypeError):
        raise ExportError(f"an op attribute cannot be written into a script: {_clean_line(text[:80])!r}") from None


def _numpy_name(node) -> str | None:
    """``name``, ``np.name`` or ``numpy.name`` -> "name"; a string constant (a dtype) -> itself."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in ("np", "numpy"):
        return node.attr
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def _callee(node) -> str | None:
    """The called name of ``f(...)``, ``np.f(...)`` or ``numpy.f(...)``."""
    return None if isinstance(node.func, ast.Constant) else _numpy_name(node.func)


def _operand(trace: Trace, names: dict, node_id: int, inline: set) -> str:
    if node_id in inline:
        return _float(trace.nodes[node_id].value)
    return names[node_id]


def _wrapped(code: str) -> str:
    """A negative literal in parentheses, so that an operator cannot bind into it: (-2.0) ** x."""
    return f"({code})" if code.startswith("-") else code


def _op_line(trace: Trace, node, names: dict, inline: set) -> str:
    op = node.op
    if not isinstance(op, str) or op not in OPS or not callable(getattr(core, op, None)):
        raise ExportError(f"the trace has an op the engine does not know: {_clean_line(str(op)[:40])!r}")
    spec = OPS[op]
    if len(node.parents) != len(spec.arg_names) and not spec.variadic:
        raise ExportError(f"a {op} node has {len(node.parents)} operands; {op} takes {len(spec.arg_names)}")
    args = [_operand(trace, names, p, inline) for p in node.parents]
    attrs = {k: v for k, v in node.attrs if k in spec.attrs}
    if spec.variadic:  # stack([a, b], axis=0), einsum('ij,jk->ik', a, b)
        if "subscripts" in attrs:
            return f"ad.{op}({', '.join([_attr_source(attrs['subscripts'], strings=True)] + args)})"
        keywords = [f"{k}={_attr_source(v)}" for k, v in attrs.items()]
        return f"ad.{op}({', '.join(['[' + ', '.join(args) + ']'] + keywords)})"
    simple = all(a.isidentifier() for a in args)
    if op in _INFIX:
        return f"{_wrapped(args[0])} {_INFIX[op]} {_wrapped(args[1])}"
    if op == "negative":
        return f"-{_wrapped(args[0])}"
    if op == "getitem" and simple and set(attrs) == {"index"}:
        return f"{args[0]}[{_attr_source(attrs['index'], subscript=True)}]"
    if op == "transpose" and simple and _attr_source(attrs.get("axes", "None")) == "None":
        return f"{args[0]}.T"
    keywords = [f"{k}={_attr_source(v, strings=k == 'ord')}" for k, v in attrs.items()]  # norm(ord='fro')
    return f"ad.{op}({', '.join(args + keywords)})"


def export_python(trace: Trace) -> str:
    """A runnable, readable script that recomputes the trace's value and gradients with ``core``.

    The inputs are written as literals that read back bit for bit; ``f`` has one line per op node
    in topological order; running the script prints the value and the gradients (``--json``: as
    JSON, full precision). Only identifiers and numbers come from the trace (the program text
    appears as a sanitized comment), so a hostile trace cannot inject code: unusable names fall
    back to ``v{id}``/``c{id}`` and anything else unexpected raises ``ExportError``.
    """
    names = python_names(trace)
    n = len(trace.nodes)
    input_ids = list(trace.inputs.values())
    if not 0 <= trace.output < n or any(not 0 <= i < n for i in input_ids):
        raise ExportError("the trace's output or inputs are not among its nodes")
    for node in trace.nodes:
        if any(not (isinstance(p, int) and 0 <= p < node.id) for p in node.parents):
            raise ExportError(f"node {node.id} has a parent that does not come before it")
    leaves = [node for node in trace.nodes if node.op is None and node.id not in set(input_ids)]
    inline = {node.id for node in leaves if np.ndim(node.value) == 0 and node.name is None}
    output = trace.nodes[trace.output]
    differentiable = np.ndim(output.value) == 0
    params = [names[i] for i in input_ids]

    out = ['"""Backprop Studio: a computation reproduced with the engine (import core as ad) and NumPy.', "",
           "It needs the engine: install Backprop Studio once (`pip install .` in its folder makes",
           "`import core` work from any folder), or save this file in that folder. Then run:", "",
           "    python this_script.py          prints the value and the gradients",
           "    python this_script.py --json   prints them and the inputs as JSON, at full precision", '"""', ""]
    if trace.program is not None:
        out.append(f"# The program{_seed(trace, ' with seed ')}:")
        out += _comment_block(trace.program, "#")
        out.append("")
    out += ["import json", "import sys", "", "import numpy as np", "", "import core as ad", ""]
    out.append("# The inputs, exactly as in the trace.")
    for i in input_ids:
        out.append(f"{names[i]} = {_array(trace.nodes[i].value)}")
    unused = len(trace.grads) - len(input_ids)
    if unused > 0:
        out.append(f"# ({unused} more input(s) do not affect the output: their gradient is 0.)")
    constants = [node for node in leaves if node.id not in inline]
    if constants:
        out += ["", "# Constants."]
        out += [f"{names[c.id]} = {_array(c.value)}" for c in constants]
    out += ["", "", f"def f({', '.join(params)}):",
            '    """The graph, one line per operation, in topological order."""']
    for node in trace.nodes:
        if node.op is not None:
            where = f"  # line {int(node.line)}" if isinstance(node.line, int) else ""
            out.append(f"    {names[node.id]} = {_op_line(trace, node, names, inline)}{where}")
    out.append(f"    return {_wrapped(_operand(trace, names, trace.output, inline))}")
    out += ["", "", f"INPUTS = {_tuple(params)}", f"NAMES = {_tuple([repr(p) for p in params])}", "", ""]
    out.append("def main(argv):")
    if differentiable and params:
        out += ["    value, grads = ad.value_and_grad(f, argnums=tuple(range(len(INPUTS))))(*INPUTS)"]
    else:
        reason = ("the output has shape " + repr(tuple(int(s) for s in np.shape(output.value)))
                  + ", so there is no single gradient" if not differentiable else "there are no inputs")
        out += [f"    # Only the value: {reason}.", "    value, grads = f(*INPUTS), ()"]
    out += ['    if "--json" in argv:',
            '        data = {"value": np.asarray(value).tolist(),',
            '                "grads": {name: np.asarray(g).tolist() for name, g in zip(NAMES, grads)},',
            '                "inputs": {name: np.asarray(v).tolist() for name, v in zip(NAMES, INPUTS)}}',
            "        print(json.dumps(data))",
            "        return",
            '    print("value:", value)',
            "    for name, g in zip(NAMES, grads):",
            '        print(f"gradient with respect to {name}:", g)',
            "", "", 'if __name__ == "__main__":', "    main(sys.argv[1:])", ""]
    return "\n".join(out)
