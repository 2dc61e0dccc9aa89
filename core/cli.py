"""``python -m core PROGRAM_OR_FILE [--seed N] [--json]``: a trace, readable in a terminal.

Prints the forward pass as a table, then every backward step as the narrator (``core.narrate``)
tells it to the page: the node, its gradient, and for each parent the rule applied with its
numbers and the parent's running sum. ``--json`` writes the
Trace's JSON instead (the format of docs/trace-format.md), for the app's import or other tools.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .errors import AutodiffError, ExpressionError
from .narrate import narrate
from .trace import Trace, format_value


def format_trace(trace: Trace) -> str:
    nodes = trace.nodes
    lines = ["Forward pass", f"  {'id':>3}  {'node':<12} {'op':<10} {'shape':<10} value"]
    for n in nodes:
        what = n.op or n.kind
        shape = str(n.shape)
        lines.append(f"  {n.id:>3}  {trace.title(n.id)[:12]:<12} {what[:10]:<10} {shape:<10} {format_value(n.value)}")
    if trace.note:
        lines += ["", trace.note]
        return "\n".join(lines) + "\n"
    lines += ["", "Backward pass (reverse topological order)"]
    for t in range(trace.t_forward_end + 1, trace.t_end + 1):
        narration = narrate(trace, t)
        lines.append(f"  {narration.summary}")
        lines += [f"      {formula}" for formula in narration.plain_formulas[1:]]
    lines += ["", "Gradients"]
    lines += [f"  d{trace.title(trace.output)}/d{name} = {format_value(g, 6)}" for name, g in trace.grads.items()]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m core", description=__doc__.splitlines()[0])
    parser.add_argument("program", help="program text, or the path of a file holding it")
    parser.add_argument("--seed", type=int, default=0, help="seed of randn/rand/spd (default 0)")
    parser.add_argument("--json", action="store_true", help="print the trace as JSON")
    args = parser.parse_args(argv)
    from .language import run

    path = Path(args.program)
    try:
        text = path.read_text() if "\n" not in args.program and path.is_file() else args.program
    except OSError as exc:
        print(f"error: cannot read {args.program}: {exc}", file=sys.stderr)
        return 2
    text = text.replace("\\n", "\n") if "\n" not in text and ";" not in text else text
    try:
        trace = run(text, seed=args.seed)
    except ExpressionError as exc:
        print(_located(text, exc), file=sys.stderr)
        return 1
    except AutodiffError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    sys.stdout.write(trace.to_json(indent=1) + "\n" if args.json else format_trace(trace))
    return 0


def _located(text: str, exc: ExpressionError) -> str:
    """The error with the offending line and a caret under the column."""
    from .language import caret_excerpt

    where = f" on line {exc.line}, column {exc.col}" if exc.line else ""
    excerpt = caret_excerpt(text, exc.line, exc.col)
    return f"error{where}: {exc}" + ("\n" + "\n".join("  " + row for row in excerpt.split("\n")) if excerpt else "")
