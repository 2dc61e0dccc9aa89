"""A protocol-level Streamlit client, and a server to point it at: load and memory tests
without a browser.

A browser talks to a Streamlit server over one websocket (``/_stcore/stream``, subprotocol
``streamlit``): it sends ``BackMsg`` protobufs (``rerun_script`` with a ``ClientState``: the
query string, every widget's value, the fragment to rerun) and receives ``ForwardMsg``s (deltas
that draw elements, ``page_info_changed`` with the new query string, ``script_finished``).
``StreamlitSession`` does the same from asyncio, so hundreds of sessions fit in one process::

    async with StreamlitSession("http://127.0.0.1:8501", query={"program": "x = 2.0\\ny = x*x"}) as s:
        first = await s.rerun()                           # what opening the link does
        step = await s.report_step(1)                     # the step view reports step 1
        print(step.seconds, step.status, s.exceptions)

What it emulates from the browser, and why:

- **The message cache.** The server marks big element messages ``cacheable`` and, when the client
  reports their hashes in ``cached_message_hashes``, sends a small ``ref_hash`` instead of the
  element again. The session keeps every cacheable message by hash, reports the hashes on every
  rerun, and resolves ``ref_hash`` from its store, as the browser does: without it a load test
  would make the server send (and us parse) far more than real browsers cause.
- **The address bar.** ``page_info_changed`` carries the query string the page wrote
  (``st.query_params``); the next rerun sends it back, so share links behave as in a browser.
- **Widgets by key.** A widget's id ends with its user key (``$$ID-<hash>-<key>``); the session
  indexes the widgets of the last run by key, with the fragment they were drawn in. ``set_widget``
  sends the new value with every value set before (the browser sends all of them) and reruns the
  widget's fragment if it has one (``fragment_id``), else the whole script. Buttons take
  ``trigger_value=True``; others ``json_value``, ``int_value``, ``double_array_value`` ... (the
  fields of ``WidgetState``).

``RunResult.seconds`` is one round trip: from sending the rerun to ``script_finished``.
``AppServer`` starts ``streamlit run`` on a free localhost port with the test flags and reads the
server's resident memory from ``/proc`` (no psutil needed).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState

ROOT = Path(__file__).resolve().parent.parent
SERVER_FLAGS = (
    "--server.headless", "true", "--server.address", "127.0.0.1",
    "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
)
_FINISHED_FOR_RERUN = "FINISHED_EARLY_FOR_RERUN"


@dataclass
class Widget:
    """A widget drawn by the last run: its full id, element type and enclosing fragment."""

    id: str
    type: str
    fragment_id: str
    element: object  # the element's protobuf (e.g. its ``.label``, ``.default``)


@dataclass
class RunResult:
    seconds: float  # rerun sent -> script_finished received
    status: str  # ScriptFinishedStatus name, e.g. FINISHED_SUCCESSFULLY
    messages: int
    bytes: int
    exceptions: list = field(default_factory=list)  # exception elements the run drew


def widget_key(widget_id: str) -> str | None:
    """The user key at the end of a widget id ``$$ID-<hash>-<key>`` (None when it has no key)."""
    parts = widget_id.split("-", 2)
    if len(parts) < 3 or parts[2] == "None":
        return None
    return parts[2]


class StreamlitSession:
    """One browser tab's worth of protocol: a websocket, the message cache, the query string,
    the widgets' values. Not thread-safe: one asyncio task per session."""

    def __init__(self, base_url: str, query: dict | str = "", *, headers: dict | None = None,
                 timeout: float = 120.0):
        self.ws_url = base_url.replace("http://", "ws://", 1).rstrip("/") + "/_stcore/stream"
        self.query_string = query if isinstance(query, str) else urlencode(query)
        self.headers = dict(headers or {})
        self.timeout = timeout
        self.widgets: dict = {}  # user key -> Widget, from the last run that drew it
        self.elements: list = []  # (element type, element protobuf) of the last run, in arrival order
        self.exceptions: list = []  # every exception element seen, as text
        self.response_headers: dict = {}  # of the websocket handshake (e.g. a proxy's X-Upstream)
        self._cache: dict = {}  # hash -> ForwardMsg, the browser's message cache
        self._values: dict = {}  # widget id -> WidgetState, values this client has set
        self._ws = None

    async def __aenter__(self) -> StreamlitSession:
        await self.connect()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    async def connect(self) -> None:
        self._ws = await websockets.connect(
            self.ws_url, subprotocols=["streamlit"], max_size=None, open_timeout=self.timeout,
            additional_headers=self.headers or None, ping_interval=None,
        )
        self.response_headers = dict(self._ws.response.headers) if self._ws.response else {}

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()
            self._ws = None

    # ---- reruns -----------------------------------------------------------------------------------

    async def rerun(self) -> RunResult:
        """A full rerun with the current query string and widget values (what opening or
        reloading the page does)."""
        return await self._run(self._back_msg(fragment_id=""))

    async def set_widget(self, key: str, **value) -> RunResult:
        """Change the widget with user key ``key`` (``trigger_value=True`` for a button click,
        ``json_value=...``, ``int_value=...``, ``double_array_value=[...]``...) and rerun its
        fragment, or the whole script if it is not in one."""
        widget = self.widgets.get(key)
        if widget is None:
            raise KeyError(f"no widget with key {key!r} in the last run (have: {sorted(self.widgets)})")
        state = WidgetState(id=widget.id)
        for name, v in value.items():
            if name == "double_array_value":
                state.double_array_value.data.extend(v)
            elif name == "int_array_value":
                state.int_array_value.data.extend(v)
            elif name == "string_array_value":
                state.string_array_value.data.extend(v)
            elif name == "json_value" and not isinstance(v, str):
                state.json_value = json.dumps(v)
            else:
                setattr(state, name, v)
        one_shot = any(name.endswith("trigger_value") for name in value)
        if not one_shot:
            self._values[widget.id] = state
        return await self._run(self._back_msg(fragment_id=widget.fragment_id, extra=state if one_shot else None))

    async def report_step(self, t: int) -> RunResult:
        """What the page's step view sends after the user stepped to ``t`` in the browser: its
        view, for the revision the server last gave it (the first line of its payload), which
        reruns the step view's fragment."""
        from ui.names import VIEW_STATE, Widget

        page = json.loads(self.widgets[Widget.STUDIO].element.bytes.split(b"\n", 1)[0])
        view = {"t": t, "node": None, "playing": False, "speed": 1.0, "revision": page["revision"]}
        return await self.set_widget(Widget.STUDIO, json_value={VIEW_STATE: view})

    def _back_msg(self, fragment_id: str, extra: WidgetState | None = None) -> BackMsg:
        back = BackMsg()
        client = back.rerun_script
        client.query_string = self.query_string
        client.fragment_id = fragment_id
        client.cached_message_hashes.extend(self._cache)
        for state in self._values.values():
            client.widget_states.widgets.append(state)
        if extra is not None:
            client.widget_states.widgets.append(extra)
        return back

    async def _run(self, back: BackMsg) -> RunResult:
        if self._ws is None:
            raise RuntimeError("not connected")
        start = time.perf_counter()
        await self._ws.send(back.SerializeToString())
        messages = size = 0
        exceptions = []
        if not back.rerun_script.fragment_id:
            self.elements = []
        async with asyncio.timeout(self.timeout):
            while True:
                raw = await self._ws.recv()
                messages += 1
                size += len(raw)
                msg = ForwardMsg()
                msg.ParseFromString(raw)
                kind = msg.WhichOneof("type")
                if kind == "ref_hash":
                    cached = self._cache.get(msg.ref_hash)
                    if cached is None:
                        raise RuntimeError(f"the server referred to a message this client never had: {msg.ref_hash}")
                    metadata = msg.metadata
                    msg = ForwardMsg()
                    msg.CopyFrom(cached)
                    msg.metadata.CopyFrom(metadata)
                    kind = msg.WhichOneof("type")
                elif msg.metadata.cacheable:
                    self._cache[msg.hash] = msg
                if kind == "delta":
                    exceptions.extend(self._take_delta(msg.delta))
                elif kind == "page_info_changed":
                    self.query_string = msg.page_info_changed.query_string
                elif kind == "script_finished":
                    status = ForwardMsg.ScriptFinishedStatus.Name(msg.script_finished)
                    if status != _FINISHED_FOR_RERUN:
                        break
        self.exceptions.extend(exceptions)
        return RunResult(time.perf_counter() - start, status, messages, size, exceptions)

    def _take_delta(self, delta) -> list:
        if delta.WhichOneof("type") != "new_element":
            return []
        element = delta.new_element
        kind = element.WhichOneof("type")
        if kind is None:
            return []
        proto = getattr(element, kind)
        self.elements.append((kind, proto))
        if kind == "exception":
            return [f"{proto.type}: {proto.message}"]
        widget_id = getattr(proto, "id", "") if "id" in proto.DESCRIPTOR.fields_by_name else ""
        key = widget_key(widget_id) if widget_id else None
        if key is not None:
            self.widgets[key] = Widget(widget_id, kind, delta.fragment_id, proto)
        return []

    def texts(self) -> list:
        """The text of the last run's markdown, text, caption and heading elements."""
        return [proto.body for kind, proto in self.elements if kind in ("markdown", "text", "heading")]


# ---- a server to test against --------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def process_rss_bytes(pid: int) -> int:
    """Resident memory of a process (VmRSS in /proc/<pid>/status), in bytes."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


class AppServer:
    """``streamlit run streamlit_app.py`` from the repo root on a free localhost port, with the
    test flags plus ``flags``; a context manager that stops it (and its children) afterwards."""

    def __init__(self, *flags: str, app: str = "streamlit_app.py", port: int | None = None,
                 env: dict | None = None, timeout: float = 60.0, log: Path | None = None):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._command = [sys.executable, "-m", "streamlit", "run", app, "--server.port", str(self.port),
                         *SERVER_FLAGS, *flags]
        self._env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        self._timeout = timeout
        self._log = log
        self.process = None

    @property
    def pid(self) -> int:
        return self.process.pid

    def rss_bytes(self) -> int:
        return process_rss_bytes(self.pid)

    def __enter__(self) -> AppServer:
        output = open(self._log, "wb") if self._log else subprocess.DEVNULL  # noqa: SIM115
        self.process = subprocess.Popen(self._command, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT,
                                        env=self._env, start_new_session=True)
        deadline = time.monotonic() + self._timeout
        while True:
            with contextlib.suppress(OSError), urllib.request.urlopen(f"{self.url}/_stcore/health",
                                                                      timeout=2) as response:
                if response.status == 200:
                    return self
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.__exit__()
                output = self._log.read_text(errors="replace") if self._log else ""
                raise RuntimeError(f"the Streamlit server on port {self.port} did not start" +
                                   (f":\n{output}" if output else ""))
            time.sleep(0.2)

    def __exit__(self, *exc) -> None:
        """Stop the server and everything it started (its process group: job workers included)."""
        if self.process is None or self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, 15)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, 9)
            self.process.wait()
