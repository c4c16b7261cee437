"""Headless Chromium driven over the DevTools protocol, through a pipe (no port, no driver).

Chromium started with ``--remote-debugging-pipe`` reads protocol messages (JSON, each ended by
a NUL byte) on its file descriptor 3 and writes its answers and events on 4. :class:`Chromium`
starts the system's browser (Debian's ``chromium``) that way with a fresh profile, opens one
page and offers what a page check needs: navigate, evaluate JavaScript (awaiting promises),
take a screenshot. Nothing is downloaded and no network port is opened.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

__all__ = ["CHROMIUM_FLAGS", "Chromium", "ChromiumError", "find_chromium"]

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
# Headless, no sandbox (containers, root), no GPU, nothing fetched in the background, media
# allowed to play without a click (the check plays every player).
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--autoplay-policy=no-user-gesture-required",
    "--remote-debugging-pipe",
)


class ChromiumError(RuntimeError):
    """The browser could not be started, answered with an error, or did not answer."""


def _above_4(fd: int) -> int:
    """``fd`` duplicated to a descriptor >= 5 (the original closed)."""
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD, 5)
    os.close(fd)
    return moved


def find_chromium() -> str | None:
    """The first of :data:`CHROMIUM_NAMES` on ``PATH`` (``$CHROMIUM`` first if set)."""
    for name in (os.environ.get("CHROMIUM"), *CHROMIUM_NAMES):
        if name and (path := shutil.which(name)):
            return path
    return None


class Chromium:
    """One headless browser with one page; use as a context manager.

    Args:
        width, height: the page's viewport in CSS pixels.
        timeout: seconds to wait for any one answer of the browser.
        executable: the browser (default: :func:`find_chromium`).
    """

    def __init__(
        self, width: int = 1400, height: int = 900, timeout: float = 60.0, executable=None
    ) -> None:
        self.executable = executable or find_chromium()
        if self.executable is None:
            raise ChromiumError(
                f"no Chromium found (looked for {', '.join(CHROMIUM_NAMES)} on PATH): "
                "apt-get install chromium"
            )
        self.width, self.height, self.timeout = width, height, timeout
        self.events: list[dict[str, Any]] = []
        self._next_id = 0
        self._buffer = b""
        self._proc: subprocess.Popen | None = None
        self._session: str | None = None

    # -- process -------------------------------------------------------------------------

    def __enter__(self) -> Chromium:
        self._profile = tempfile.mkdtemp(prefix="listen-chromium-")
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()
        # The browser's ends move above 4, so that placing one at 3 or 4 cannot overwrite the other.
        to_browser_r, from_browser_w = (_above_4(fd) for fd in (to_browser_r, from_browser_w))
        args = [
            *CHROMIUM_FLAGS,
            f"--user-data-dir={self._profile}",
            f"--window-size={self.width},{self.height}",
            "about:blank",
        ]
        # A small Python places the pipe ends at the descriptors 3 and 4 the browser expects
        # (a shell cannot: dash names descriptors by one digit), then becomes the browser.
        script = (
            f"import os, sys; os.dup2({to_browser_r}, 3); os.dup2({from_browser_w}, 4); "
            "os.execv(sys.argv[1], sys.argv[1:])"
        )
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-I", "-S", "-c", script, self.executable, *args],
                pass_fds=(to_browser_r, from_browser_w),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
        finally:
            os.close(to_browser_r)
            os.close(from_browser_w)
        try:
            target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
            attached = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})
            self._session = attached["sessionId"]
            for domain in ("Page", "Runtime"):
                self.send(f"{domain}.enable")
            self.send(
                "Emulation.setDeviceMetricsOverride",
                {"width": self.width, "height": self.height, "deviceScaleFactor": 1,
                 "mobile": False},
            )  # fmt: skip
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            with contextlib.suppress(ChromiumError, OSError):
                self._session = None
                self._write({"id": self._new_id(), "method": "Browser.close"})
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if proc.stderr is not None:
                proc.stderr.close()
        for fd in (self._to_browser, self._from_browser):
            with contextlib.suppress(OSError):
                os.close(fd)
        shutil.rmtree(self._profile, ignore_errors=True)

    # -- protocol ------------------------------------------------------------------------

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def _write(self, message: dict[str, Any]) -> None:
        try:
            os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        except BrokenPipeError:
            raise ChromiumError(f"Chromium exited: {self._stderr()}") from None

    def _stderr(self) -> str:
        if self._proc is None or self._proc.stderr is None:
            return ""
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._proc.wait(timeout=5)
        return self._proc.stderr.read().decode(errors="replace").strip()[-2000:]

    def _read(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ChromiumError(f"Chromium did not answer within {self.timeout} s")
            ready, _, _ = select.select([self._from_browser], [], [], left)
            if ready:
                chunk = os.read(self._from_browser, 1 << 20)
                if not chunk:
                    raise ChromiumError(f"Chromium exited: {self._stderr()}")
                self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def send(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Call a protocol method on the page (on the browser before a page is attached)."""
        msg_id = self._new_id()
        message: dict[str, Any] = {"id": msg_id, "method": method, "params": params or {}}
        if self._session is not None:
            message["sessionId"] = self._session
        self._write(message)
        deadline = time.monotonic() + self.timeout
        while True:
            answer = self._read(deadline)
            if answer.get("id") == msg_id:
                if "error" in answer:
                    raise ChromiumError(f"{method}: {answer['error']}")
                return answer.get("result", {})
            if "method" in answer:
                self.events.append(answer)

    def wait_event(self, method: str, timeout: float | None = None) -> dict[str, Any]:
        """The first event ``method`` not yet consumed (waiting for it if needed)."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            for i, event in enumerate(self.events):
                if event["method"] == method:
                    return self.events.pop(i)
            answer = self._read(deadline)
            if "method" in answer:
                self.events.append(answer)

    # -- page ----------------------------------------------------------------------------

    def open(self, path: str | os.PathLike) -> None:
        """Load a local file (``file://``) and wait for its load event."""
        self.events = [e for e in self.events if e["method"] != "Page.loadEventFired"]
        url = Path(path).resolve().as_uri()
        result = self.send("Page.navigate", {"url": url})
        if result.get("errorText"):
            raise ChromiumError(f"cannot open {url}: {result['errorText']}")
        self.wait_event("Page.loadEventFired")

    def evaluate(self, expression: str) -> Any:
        """Evaluate JavaScript in the page, awaiting a promise; returns its value (JSON)."""
        result = self.send(
            "Runtime.evaluate",
            {"expression": expression, "awaitPromise": True, "returnByValue": True,
             "userGesture": True},
        )  # fmt: skip
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            raise ChromiumError(f"JavaScript error: {text}")
        return result["result"].get("value")

    def screenshot(self, path: str | os.PathLike, full_page: bool = True) -> Path:
        """Save the page as a PNG (the whole page, or the viewport)."""
        params: dict[str, Any] = {"format": "png"}
        if full_page:
            size = self.send("Page.getLayoutMetrics")["cssContentSize"]
            params["clip"] = {"x": 0, "y": 0, "width": max(size["width"], self.width),
                              "height": size["height"], "scale": 1}  # fmt: skip
            params["captureBeyondViewport"] = True
        data = base64.b64decode(self.send("Page.captureScreenshot", params)["data"])
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return path
