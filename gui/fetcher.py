"""Frames are fetched off the GUI thread; only the newest request is worth doing.

::

    GUI: request(n) ──> mailbox (holds ONE request: a newer one replaces it = dropped)
                           │ taken by an idle worker QThread
                           ▼
                        render(request) ── may decode a whole GOP (seconds)
                           │ signal (queued to the GUI thread)
    GUI: show it unless a newer result is already on screen

Two workers by default, so a frame of a GOP already in the decoder's cache is served while another worker is
still decoding a GOP the user has scrubbed past (that GOP stays cached for later). Rendering never happens on
the GUI thread, so the window stays responsive however long a decode takes.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PyQt6.QtCore import QObject, QThread, pyqtSignal

from .errors import describe_error

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class FrameRequest:
    """Frame ``n`` of the clips (indices into the session's clips) the view shows; ``serial`` orders requests."""

    serial: int
    n: int
    clips: tuple[int, ...]


@dataclass(frozen=True)
class FrameResult:
    request: FrameRequest
    images: dict[int, Any]  # clip index -> uint8 RGB [H, W, 3]
    stats: Any
    seconds: float


class _Worker(QThread):
    def __init__(self, fetcher: FrameFetcher, index: int) -> None:
        super().__init__()
        self._fetcher = fetcher
        self.setObjectName(f"frame-worker-{index}")

    def run(self) -> None:
        self._fetcher._work()


class FrameFetcher(QObject):
    """Runs ``render`` for the newest request on worker threads.

    :param render: request -> result; called on a worker thread, may raise (reported via ``failed``).
    :param workers: worker threads.
    """

    ready = pyqtSignal(object)  # FrameResult
    failed = pyqtSignal(object, str)  # FrameRequest, message

    def __init__(self, render: Callable[[FrameRequest], FrameResult], workers: int = 2) -> None:
        super().__init__()
        self._render = render
        self._cond = threading.Condition()
        self._pending: FrameRequest | None = None
        self._running: set[int] = set()
        self._serial = 0
        self._stopping = False
        self._then: Callable[[], None] | None = None
        self.requested = 0
        self.rendered = 0
        self.dropped = 0  # requests replaced before any worker took them
        self._threads = [_Worker(self, i) for i in range(max(1, workers))]
        self._alive = len(self._threads)
        for thread in self._threads:
            thread.start()

    def request(self, n: int, clips: tuple[int, ...]) -> FrameRequest:
        """Queue frame ``n``; a request still waiting is dropped in its favour."""
        with self._cond:
            if self._stopping:
                raise RuntimeError("FrameFetcher.request() after stop()")
            self._serial += 1
            req = FrameRequest(self._serial, n, clips)
            if self._pending is not None:
                self.dropped += 1
            self._pending = req
            self.requested += 1
            self._cond.notify()
        return req

    @property
    def latest_serial(self) -> int:
        return self._serial

    def idle(self) -> bool:
        with self._cond:
            return self._pending is None and not self._running

    def _work(self) -> None:
        while True:
            with self._cond:
                while self._pending is None and not self._stopping:
                    self._cond.wait()
                if self._stopping:
                    break
                req = self._pending
                assert req is not None
                self._pending = None
                self._running.add(req.serial)
            t0 = time.perf_counter()
            try:
                result = self._render(req)
            except Exception as exc:  # reported to the GUI; a worker never dies on a bad frame
                logger.debug("frame %d failed", req.n, exc_info=True)
                self._finish(req)
                self.failed.emit(req, describe_error(exc))
                continue
            self._finish(req)
            self.rendered += 1
            logger.debug("frame %d rendered in %.3f s", req.n, time.perf_counter() - t0)
            self.ready.emit(result)
        self._exit()

    def _finish(self, req: FrameRequest) -> None:
        with self._cond:
            self._running.discard(req.serial)

    def _exit(self) -> None:
        with self._cond:
            self._alive -= 1
            last = self._alive == 0
            then = self._then if last else None
        if then is not None:
            try:
                then()
            except Exception:  # cleanup must not kill the thread machinery
                logger.exception("cleanup after the frame workers failed")

    def stop(self, then: Callable[[], None] | None = None) -> None:
        """Take no more work; ``then`` runs (on a worker thread) once the running renders have ended."""
        with self._cond:
            self._stopping = True
            self._pending = None
            self._then = then
            self._cond.notify_all()

    def wait(self, timeout_ms: int | None = None) -> bool:
        """Block until every worker has exited (after :meth:`stop`)."""
        ok = True
        for thread in self._threads:
            ok = (thread.wait() if timeout_ms is None else thread.wait(timeout_ms)) and ok
        return ok

    def running(self) -> bool:
        return any(t.isRunning() for t in self._threads)
