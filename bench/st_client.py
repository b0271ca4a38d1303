"""A browser tab without a browser: a client of Streamlit's own WebSocket protocol, for `make load-dashboard`.

It does what the frontend does, on the same wire (`/_stcore/stream`, `BackMsg`/`ForwardMsg` protobufs),
as recorded from Debian chromium against this dashboard (bench/load_dashboard.py `--client protocol`):

- opens the page: GET /, /_stcore/health (the `_streamlit_xsrf` cookie) and /_stcore/host-config, then
  the WebSocket with the subprotocols ["streamlit", <xsrf cookie>] and the cookie, same Origin;
- keeps the element tree from the deltas (main area and sidebar, by delta path) and drops what a
  finished run did not redraw (a full run: everything stale; a fragment run: that fragment's stale
  elements), as the frontend does;
- keeps each widget's value as the frontend does (a widget's default when it first appears; the
  server's value when it sets one; what the "student" typed), and sends the values of every widget on
  the page with each `rerun_script`, a button's press as a one-shot `trigger_value`, with the
  `fragment_id` of the fragment the pressed widget lives in (a fragment rerun, as the browser sends),
  or none when a value typed outside that fragment goes with the press (the browser then asks for a
  full run: typing into the prompt and pressing Run is one message, one full run);
- follows page links (the link's page hash and query string) and the URL's query string
  (`page_info_changed`);
- runs the `auto_rerun` timers the server asks for (a fragment's `run_every`), cleared on each full run;
- reports the moment a text first appears in the elements a message draws (`wait_text`): the same
  moment a MutationObserver in the browser would see it, less the rendering.

Only what this dashboard's student flows use is modelled: text inputs and areas, select boxes, radios,
number inputs, checkboxes/toggles, buttons and form submit buttons, page links. A delta of another kind
is kept in the tree (its text searched) but never given a value.
"""

from __future__ import annotations

import asyncio
import re
import time
import urllib.parse

import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.NumberInput_pb2 import NumberInput

TEXT_FIELDS = ("body", "label", "text")
FINISHED_OK = (0, 3)  # FINISHED_SUCCESSFULLY, FINISHED_FRAGMENT_RUN_SUCCESSFULLY


async def http_get(host: str, port: int, path: str, cookie: str = "",
                   source: str | None = None) -> tuple[int, dict, bytes]:
    """A plain HTTP/1.1 GET over loopback (no third-party client needed); status, headers, body. `source`:
    the local address to connect from (any of 127.0.0.0/8 on loopback: another client address)."""
    reader, writer = await asyncio.open_connection(host, port, local_addr=(source, 0) if source else None)
    request = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n"
    if cookie:
        request += f"Cookie: {cookie}\r\n"
    writer.write((request + "\r\n").encode())
    raw = await reader.read()
    writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers: dict[str, list[str]] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.setdefault(name.strip().lower(), []).append(value.strip())
    return int(lines[0].split()[1]), headers, body


class Tab:
    """One student's browser tab on one Streamlit server."""

    def __init__(self, base_url: str, source: str | None = None, cookies: bool = True):
        """`source`: the local address to connect from; `cookies=False`: a client that keeps no cookie (a
        script: Streamlit's `_streamlit_xsrf` is never sent back)."""
        self.base_url = base_url.rstrip("/")
        self.source, self.keeps_cookies = source, cookies
        parsed = urllib.parse.urlparse(self.base_url)
        self.host, self.port = parsed.hostname, parsed.port
        self.cookies: dict[str, str] = {}
        self.ws = None
        self.url_path = "/"
        self.query_string = ""
        self.page_script_hash = ""
        self.tree: dict[tuple, tuple] = {}  # delta path -> (run id, fragment id, kind, proto)
        self.values: dict[str, dict] = {}  # widget id -> WidgetState fields the frontend keeps
        self.run_id = ""
        self.run_fragments: list[str] = []
        self.running = False
        self.finished = asyncio.Event()
        self.updated = asyncio.Event()  # set after every message: wait_for looks again
        self.autoreruns: dict[str, asyncio.Task] = {}
        self.watchers: list[tuple[re.Pattern, asyncio.Future]] = []
        self.reader: asyncio.Task | None = None
        self.messages = 0
        self.closed = False
        self.typed: set[str] = set()  # fragments (or "" for the page) of widgets changed since the last send
        self.sent: list[BackMsg] | None = None  # a list: every message sent is kept there (to compare)

    # --- connecting ------------------------------------------------------------------------------
    async def open(self, path: str = "/") -> None:
        for step in (path, "/_stcore/health", "/_stcore/host-config"):  # Streamlit 1.67 sets the cookie at health
            status, headers, _ = await http_get(self.host, self.port, step, self.cookie_header(), self.source)
            if status != 200:
                raise RuntimeError(f"GET {step}: {status}")
            for header in headers.get("set-cookie", []) if self.keeps_cookies else []:  # verbatim: it holds '|'
                name, _, rest = header.partition("=")
                self.cookies[name.strip()] = rest.split(";", 1)[0]
        cookie = self.cookie_header()
        self.url_path = path
        protocols = ["streamlit", self.cookies.get("_streamlit_xsrf", "PLACEHOLDER_AUTH_TOKEN")]
        self.ws = await websockets.connect(
            f"ws://{self.host}:{self.port}/_stcore/stream", subprotocols=protocols,
            additional_headers={"Origin": self.base_url, **({"Cookie": cookie} if cookie else {})}, max_size=None,
            compression=None, ping_interval=None, local_addr=(self.source, 0) if self.source else None)
        self.reader = asyncio.create_task(self._read())
        await self.rerun()  # the frontend's first message: a full run with no widget state

    def cookie_header(self) -> str:
        return "; ".join(f"{name}={value}" for name, value in self.cookies.items())

    async def close(self) -> None:
        self.closed = True
        for task in self.autoreruns.values():
            task.cancel()
        if self.ws is not None:
            await self.ws.close()
        if self.reader is not None:
            self.reader.cancel()

    # --- what the frontend sends -----------------------------------------------------------------
    def client_state(self, trigger: str | None = None, fragment_id: str = "", auto: bool = False) -> BackMsg:
        message = BackMsg()
        state = message.rerun_script
        state.query_string = self.query_string
        state.page_script_hash = self.page_script_hash
        if fragment_id:
            state.fragment_id = fragment_id
        if auto:
            state.is_auto_rerun = True
        for widget_id in self.widget_ids():
            if widget_id in self.values:
                widget = state.widget_states.widgets.add(id=widget_id)
                for field, value in self.values[widget_id].items():
                    setattr(widget, field, value)
        if trigger:
            state.widget_states.widgets.add(id=trigger, trigger_value=True)
        context = state.context_info
        context.timezone, context.timezone_offset, context.locale = "UTC", 0, "en-US"
        context.url = self.base_url + self.url_path + (f"?{self.query_string}" if self.query_string else "")
        context.is_embedded, context.color_scheme = False, "light"
        return message

    async def send(self, message: BackMsg) -> None:
        self.finished.clear()
        self.typed.clear()
        if self.sent is not None:
            self.sent.append(message)
        await self.ws.send(message.SerializeToString())

    async def rerun(self, trigger: str | None = None, fragment_id: str = "", auto: bool = False) -> None:
        await self.send(self.client_state(trigger, fragment_id, auto))

    async def press(self, label: str, kind: str = "button") -> float:
        """Press the button (or form submit button) labelled `label`; returns the moment it was sent."""
        path, element = self.find(kind, label)
        fragment_id = self.tree[path][1]
        if self.typed - {fragment_id}:
            fragment_id = ""  # a value typed outside the button's fragment goes with it: a full run
        pressed = time.monotonic()
        await self.rerun(trigger=element.id, fragment_id=fragment_id)
        return pressed

    def type(self, label: str, text: str, kind: str = "") -> None:
        """Type into the text input or text area labelled `label` (sent with the next rerun)."""
        path, element = self.find(kind or ("text_input", "text_area"), label)
        self.values[element.id] = {"string_value": text}
        self.typed.add(self.tree[path][1])

    async def click_link(self, label: str) -> None:
        _, link = self.find("page_link", label)
        self.page_script_hash = link.page_script_hash
        if link.query_string:
            self.query_string = link.query_string
        for widget_id in [w for w in self.values if not self.in_sidebar(w)]:
            del self.values[widget_id]  # the page's own widgets go with it
        await self.rerun()

    # --- what the frontend keeps ---------------------------------------------------------------------
    def find(self, kinds, label: str):
        kinds = (kinds,) if isinstance(kinds, str) else kinds
        for path, (_, _, kind, element) in self.tree.items():
            if kind in kinds and getattr(element, "label", None) == label:
                return path, element
        raise LookupError(f"no {'/'.join(kinds)} labelled {label!r} on the page")

    def has(self, kind: str, label: str) -> bool:
        try:
            self.find(kind, label)
            return True
        except LookupError:
            return False

    def widget_ids(self) -> list[str]:
        return [element.id for (_, _, kind, element) in self.tree.values() if kind != "block"
                and getattr(element, "id", "") and kind != "page_link"]

    def in_sidebar(self, widget_id: str) -> bool:
        return any(path[0] == 1 and getattr(element, "id", "") == widget_id
                   for path, (_, _, _, element) in self.tree.items())

    def texts(self) -> list[str]:
        return [text for (_, _, kind, element) in self.tree.values() if kind != "block"
                for text in element_texts(element)]

    # --- what the server sends -----------------------------------------------------------------------
    async def _read(self) -> None:
        try:
            async for payload in self.ws:
                self.messages += 1
                message = ForwardMsg()
                message.ParseFromString(payload)
                self.handle(message)
                self.updated.set()
        except (websockets.ConnectionClosed, asyncio.CancelledError):
            pass
        finally:
            for _, future in self.watchers:
                if not future.done():
                    future.set_exception(ConnectionError("the server closed the connection"))

    def handle(self, message: ForwardMsg) -> None:
        kind = message.WhichOneof("type")
        if kind == "delta":
            self.on_delta(message)
        elif kind == "new_session":
            self.running = True
            self.run_id = message.metadata.run.script_run_id
            self.run_fragments = list(message.metadata.run.fragment_ids)
            if not self.run_fragments:  # a full run: the frontend clears the timers the last one set
                for task in self.autoreruns.values():
                    task.cancel()
                self.autoreruns.clear()
        elif kind == "script_finished":
            self.running = False
            if message.script_finished in FINISHED_OK:
                self.drop_stale()
            self.finished.set()
        elif kind == "navigation":  # the page this run drew: its hash and URL path, as the frontend keeps them
            navigation = message.navigation
            self.page_script_hash = navigation.page_script_hash
            for page in navigation.app_pages:
                if page.page_script_hash == navigation.page_script_hash:
                    self.url_path = "/" if page.is_default or not page.url_pathname else "/" + page.url_pathname
        elif kind == "page_info_changed":
            self.query_string = message.page_info_changed.query_string
        elif kind == "auto_rerun":
            fragment_id = message.auto_rerun.fragment_id
            if fragment_id in self.autoreruns:
                self.autoreruns[fragment_id].cancel()
            self.autoreruns[fragment_id] = asyncio.create_task(
                self._auto_rerun(message.auto_rerun.interval, fragment_id))
        elif kind == "ref_hash":
            raise RuntimeError("a cached ForwardMsg reference: this client does not fetch those")

    async def _auto_rerun(self, interval: float, fragment_id: str) -> None:
        while not self.closed:
            await asyncio.sleep(interval)
            await self.rerun(fragment_id=fragment_id, auto=True)

    def on_delta(self, message: ForwardMsg) -> None:
        delta = message.delta
        path = tuple(message.metadata.delta_path)
        which = delta.WhichOneof("type")
        if which == "new_element":
            kind = delta.new_element.WhichOneof("type")
            element = getattr(delta.new_element, kind)
            self.remember(kind, element)
        elif which == "add_block":
            kind, element = "block", delta.add_block
        else:  # new_transient, arrow_add_rows...: nothing a student reads or presses
            return
        if path in self.tree and self.tree[path][2] == "block" and kind != "block":
            self.drop_under(path)  # a block replaced by an element takes its children with it
        self.tree[path] = (self.run_id, delta.fragment_id, kind, element)
        if self.watchers:
            texts = element_texts(element) if kind != "block" else []
            for pattern, future in list(self.watchers):
                if not future.done() and any(pattern.search(text) for text in texts):
                    future.set_result(time.monotonic())
                    self.watchers.remove((pattern, future))

    def drop_under(self, path: tuple) -> None:
        for other in [p for p in self.tree if len(p) > len(path) and p[:len(path)] == path]:
            del self.tree[other]

    def drop_stale(self) -> None:
        """After a run: what it did not redraw goes (a fragment run: only in that fragment)."""
        fragments = set(self.run_fragments)
        for path, (run_id, fragment_id, _, _) in list(self.tree.items()):
            if run_id != self.run_id and (not fragments or fragment_id in fragments):
                del self.tree[path]
        present = set(self.widget_ids())
        for widget_id in [w for w in self.values if w not in present]:
            del self.values[widget_id]  # the frontend forgets the state of widgets no longer drawn

    def remember(self, kind: str, element) -> None:
        """A widget's value as the frontend keeps it: its default when first drawn, the server's when set."""
        widget_id = getattr(element, "id", "")
        if not widget_id or (widget_id in self.values and not getattr(element, "set_value", False)):
            return
        if kind in ("text_input", "text_area"):
            if element.HasField("value") or element.HasField("default"):
                value = element.value if element.HasField("value") else element.default
                self.values[widget_id] = {"string_value": value}
        elif kind in ("selectbox", "radio"):
            if getattr(element, "set_value", False) and element.HasField("raw_value"):
                self.values[widget_id] = {"string_value": element.raw_value}
            elif element.HasField("default") and element.options:
                self.values[widget_id] = {"string_value": element.options[element.default]}
        elif kind == "number_input":
            if not (element.HasField("value") or element.HasField("default")):
                return
            value = element.value if element.HasField("value") else element.default
            if element.data_type == NumberInput.INT:
                self.values[widget_id] = {"int_value": int(value)}
            else:
                self.values[widget_id] = {"double_value": value}
        elif kind == "checkbox":
            self.values[widget_id] = {"bool_value": element.value if element.set_value else element.default}

    # --- waiting ---------------------------------------------------------------------------------------
    def watch(self, pattern: str) -> asyncio.Future:
        """A future set to the moment a newly drawn element first shows `pattern` (a regex)."""
        future = asyncio.get_running_loop().create_future()
        self.watchers.append((re.compile(pattern), future))
        return future

    async def wait_text(self, pattern: str, timeout: float) -> float:
        """Wait until `pattern` is on the page (drawn now or already there); its moment."""
        if any(re.search(pattern, text) for text in self.texts()):
            return time.monotonic()
        return await asyncio.wait_for(self.watch(pattern), timeout)

    async def wait_for(self, condition, timeout: float) -> None:
        """Until `condition()` holds, looked at after each message from the server."""
        async def looking():
            while not condition():
                self.updated.clear()
                await self.updated.wait()
        await asyncio.wait_for(looking(), timeout)

    def settled(self) -> bool:
        """No run in progress, none asked for."""
        return self.finished.is_set() and not self.running


def element_texts(element) -> list[str]:
    texts = []
    for field in TEXT_FIELDS:
        value = getattr(element, field, None)
        if isinstance(value, str) and value:
            texts.append(value)
    return texts
