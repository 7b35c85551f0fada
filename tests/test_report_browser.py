"""The report in a real headless Chromium (Debian package ``chromium``), driven over the DevTools protocol.

Chromium runs with ``--remote-debugging-pipe``: DevTools messages are NUL-terminated
JSON on file descriptors 3 (commands in) and 4 (events and results out), so no
port, no websocket library and no network are involved. A page counts as broken
when DevTools reports an uncaught exception (``Runtime.exceptionThrown``), a
console error (``Runtime.consoleAPICalled``) or an error log entry
(``Log.entryAdded``: failed loads, Content-Security-Policy violations, invalid
SVG attributes); a deliberately broken page proves each of those is caught.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import queue
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from roamsim.report import REPORT_FILE, write_comparison
from runkit import run
from test_report import SCENARIO, without_steering

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
TIMEOUT_S = 60.0


class Chromium:
    """One headless Chromium process and its DevTools pipe."""

    def __init__(self, profile: Path) -> None:
        exe = shutil.which("chromium")
        if exe is None:
            pytest.fail("chromium is not installed: `make test` installs it (apt-get install chromium)")
        cmd_r, cmd_w = os.pipe()  # we write commands, Chromium reads them as fd 3
        out_r, out_w = os.pipe()  # Chromium writes to fd 4, we read
        # Move the child's ends above 10 so the 3</4> redirections cannot clobber them.
        hi_r = fcntl.fcntl(cmd_r, fcntl.F_DUPFD, 10)
        hi_w = fcntl.fcntl(out_w, fcntl.F_DUPFD, 10)
        os.close(cmd_r)
        os.close(out_w)
        args = ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--disable-extensions", "--hide-scrollbars",
                "--mute-audio", f"--user-data-dir={profile}", "--remote-debugging-pipe", "about:blank"]
        self._stderr = (profile.parent / "chromium-stderr.log").open("wb")
        self.proc = subprocess.Popen(
            ["bash", "-c", f'exec "$0" "$@" 3<&{hi_r} 4>&{hi_w} {hi_r}<&- {hi_w}>&-', exe, *args],
            pass_fds=(hi_r, hi_w), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self._stderr)
        os.close(hi_r)
        os.close(hi_w)
        self._out = os.fdopen(cmd_w, "wb", buffering=0)
        self._in = os.fdopen(out_r, "rb", buffering=0)
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self._next_id = 0
        self.events: list[dict[str, Any]] = []

    def _read(self) -> None:
        buf = b""
        while True:
            chunk = self._in.read(65536)
            if not chunk:
                self._queue.put(None)
                return
            buf += chunk
            *messages, buf = buf.split(b"\0")
            for m in messages:
                self._queue.put(json.loads(m))

    def _next(self, deadline: float) -> dict[str, Any]:
        try:
            msg = self._queue.get(timeout=max(0.01, deadline - time.monotonic()))
        except queue.Empty:
            pytest.fail("Chromium did not answer in time")
        if msg is None:
            pytest.fail(f"Chromium closed the DevTools pipe (exit code {self.proc.poll()})")
        return msg

    def send(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> dict[str, Any]:
        """Send one command and wait for its result (events received meanwhile go to ``events``)."""
        self._next_id += 1
        msg: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session is not None:
            msg["sessionId"] = session
        self._out.write(json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + TIMEOUT_S
        while True:
            reply = self._next(deadline)
            if reply.get("id") == self._next_id:
                assert "error" not in reply, f"{method}: {reply['error']}"
                result: dict[str, Any] = reply["result"]
                return result
            self.events.append(reply)

    def wait_event(self, method: str, session: str) -> dict[str, Any]:
        deadline = time.monotonic() + TIMEOUT_S
        for e in self.events:
            if e.get("method") == method and e.get("sessionId") == session:
                return e
        while True:
            e = self._next(deadline)
            self.events.append(e)
            if e.get("method") == method and e.get("sessionId") == session:
                return e

    def close(self) -> None:
        self._out.close()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=15)
        self._reader.join(timeout=5)
        self._in.close()
        self._stderr.close()


class Page:
    """A page opened in a fresh tab, with its DevTools problems collected."""

    def __init__(self, browser: Chromium, url: str) -> None:
        self.browser = browser
        target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page.enable", "Runtime.enable", "Log.enable"):
            browser.send(domain, session=self.session)
        browser.send("Emulation.setDeviceMetricsOverride",
                     {"width": 1240, "height": 900, "deviceScaleFactor": 1, "mobile": False}, session=self.session)
        browser.send("Page.navigate", {"url": url}, session=self.session)
        browser.wait_event("Page.loadEventFired", self.session)
        # Two animation frames: layout and paint have happened.
        self.evaluate("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(1))))")

    def evaluate(self, expression: str) -> Any:
        res = self.browser.send("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                     "awaitPromise": True}, session=self.session)
        assert "exceptionDetails" not in res, res["exceptionDetails"]
        return res["result"].get("value")

    def problems(self) -> list[str]:
        """Uncaught exceptions, console errors and error log entries of this page."""
        out = []
        for e in self.browser.events:
            if e.get("sessionId") != self.session:
                continue
            m, p = e.get("method"), e.get("params", {})
            if m == "Runtime.exceptionThrown":
                out.append(f"exception: {p['exceptionDetails'].get('exception', {}).get('description')}"
                           f" {p['exceptionDetails'].get('text')}")
            elif m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                out.append(f"console.{p['type']}: {[a.get('value', a.get('description')) for a in p['args']]}")
            elif m == "Log.entryAdded" and p["entry"]["level"] == "error":
                out.append(f"log ({p['entry']['source']}): {p['entry']['text']}")
        return out

    def screenshot(self, path: Path) -> None:
        size = self.browser.send("Page.getLayoutMetrics", session=self.session)["cssContentSize"]
        shot = self.browser.send("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}},
            session=self.session)
        path.write_bytes(base64.b64decode(shot["data"]))


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chromium]:
    b = Chromium(tmp_path_factory.mktemp("chromium") / "profile")
    yield b
    b.close()


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("browser")
    run(without_steering(), base / "free")
    run(SCENARIO, base / "steered")
    return base / "free", base / "steered"


CHARTS_JS = """
Array.from(document.querySelectorAll("svg.chart")).map(svg => {
  const box = svg.getBoundingClientRect();
  const lines = Array.from(svg.querySelectorAll("path.line, rect"));
  return {label: svg.getAttribute("aria-label"), width: box.width, height: box.height,
          marks: lines.length,
          drawn: lines.filter(p => { const b = p.getBBox(); return (b.width > 0 || b.height > 0)
                                     && (p.tagName !== "path" || (p.getAttribute("d") || "").length > 2); }).length,
          stroked: lines.filter(p => p.tagName !== "path" || getComputedStyle(p).stroke !== "none").length};
})
"""


def test_report_renders_in_chromium_without_errors(browser: Chromium, runs: tuple[Path, Path]) -> None:
    page = Page(browser, (runs[1] / REPORT_FILE).as_uri())
    assert page.problems() == []
    charts = page.evaluate(CHARTS_JS)
    assert len(charts) >= 6
    for c in charts:
        assert c["width"] > 300 and c["height"] > 50, c
        assert c["marks"] > 0 and c["drawn"] == c["marks"] and c["stroked"] == c["marks"], c
    ladder = page.evaluate("""(() => { const s = document.querySelector("svg.ladder");
        return {arrows: s.querySelectorAll("g.row line.msg").length,
                heads: s.querySelectorAll("g.row path.head").length,
                height: s.getBoundingClientRect().height, cols: s.querySelectorAll("text.role").length}; })()""")
    assert ladder["arrows"] == ladder["heads"] > 10 and ladder["height"] > 200 and ladder["cols"] >= 5
    # The page's style sheet applied (CSP allowed it by hash): tiles are laid out in a grid.
    assert page.evaluate("getComputedStyle(document.querySelector('.tiles')).display") == "grid"
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "report.png"
    page.screenshot(shot)
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert width >= 1200 and height > 3000


def test_tables_sort_on_a_click(browser: Chromium, runs: tuple[Path, Path]) -> None:
    """The report's one script: clicking a header sorts the table by that column, then the other way."""
    page = Page(browser, (runs[1] / REPORT_FILE).as_uri())
    column = """(() => { const t = document.querySelector("#partners table");
        return Array.from(t.tBodies[0].rows).map(r => parseFloat(r.cells[2].getAttribute("data-sort"))); })()"""
    click = """document.querySelectorAll("#partners table thead th")[2].click()"""
    before = page.evaluate(column)
    assert len(before) >= 4 and before != sorted(before)
    page.evaluate(click)
    assert page.evaluate(column) == sorted(before)
    page.evaluate(click)
    assert page.evaluate(column) == sorted(before, reverse=True)
    assert page.problems() == []


def test_comparison_renders_in_chromium_without_errors(browser: Chromium, runs: tuple[Path, Path],
                                                       tmp_path: Path) -> None:
    out = write_comparison(*runs, tmp_path / "compare.html")
    page = Page(browser, out.as_uri())
    assert page.problems() == []
    charts = page.evaluate(CHARTS_JS)
    assert charts and all(c["drawn"] == c["marks"] > 0 for c in charts)
    dashed = page.evaluate("""document.querySelectorAll("svg.chart path.line[stroke-dasharray]").length""")
    assert dashed > 0


def test_a_broken_page_is_caught(browser: Chromium, tmp_path: Path) -> None:
    """The checks above would see a script error, a broken SVG path and a request for an external resource."""
    bad = tmp_path / "bad.html"
    bad.write_text('<!DOCTYPE html><html><head><meta charset="utf-8"><title>bad</title></head><body>'
                   '<svg width="100" height="100"><path d="M 0 0 L x y"/></svg>'
                   "<script>undefined_function();</script>"
                   '<img src="https://example.invalid/logo.png"></body></html>', encoding="utf-8")
    problems = Page(browser, bad.as_uri()).problems()
    assert any(p.startswith("exception:") and "undefined_function" in p for p in problems), problems
    assert any("<path> attribute d" in p for p in problems), problems
    assert any("Failed to load resource" in p for p in problems), problems


def test_the_report_policy_refuses_anything_added_to_it(browser: Chromium, runs: tuple[Path, Path],
                                                         tmp_path: Path) -> None:
    """The report's Content-Security-Policy blocks (and Chromium reports) scripts, styles and images it did not
    ship: no external resource could load even if one slipped into the page."""
    text = (runs[1] / REPORT_FILE).read_text(encoding="utf-8")
    bad = tmp_path / "tampered.html"
    bad.write_text(text.replace("</body>", '<script>document.title = "ran";</script><div style="color:red">x</div>'
                                '<img src="https://example.invalid/a.png"></body>'), encoding="utf-8")
    page = Page(browser, bad.as_uri())
    problems = page.problems()
    assert any("inline script" in p and "Content Security Policy" in p for p in problems), problems
    assert any("inline style" in p for p in problems), problems
    assert any("example.invalid" in p and "img-src" in p for p in problems), problems
    assert page.evaluate("document.title") != "ran"
