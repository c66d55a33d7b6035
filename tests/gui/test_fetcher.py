"""The frame fetcher: work happens off the GUI thread, only the newest request is rendered."""

from __future__ import annotations

import threading
import time

from gui.fetcher import FrameFetcher, FrameRequest, FrameResult


def test_renders_off_gui_thread_and_drops_stale_requests(qtbot) -> None:
    gate = threading.Event()
    threads: set[str] = set()
    rendered: list[int] = []

    def render(req: FrameRequest) -> FrameResult:
        threads.add(threading.current_thread().name)
        gate.wait(10)  # a slow decode: requests pile up meanwhile
        rendered.append(req.n)
        return FrameResult(req, {}, None, 0.0)

    fetcher = FrameFetcher(render, workers=1)
    shown: list[int] = []
    fetcher.ready.connect(lambda r: shown.append(r.request.n))
    fetcher.request(0, (0,))
    qtbot.waitUntil(lambda: not fetcher.idle() and fetcher._pending is None, timeout=5000)  # worker took frame 0
    t0 = time.perf_counter()
    for n in range(1, 30):
        fetcher.request(n, (0,))
    assert time.perf_counter() - t0 < 0.5  # requesting never waits for the decode
    gate.set()
    qtbot.waitUntil(lambda: shown[-1:] == [29], timeout=5000)
    assert rendered == [0, 29]
    assert fetcher.dropped == 28 and fetcher.requested == 30
    assert threading.main_thread().name not in threads
    fetcher.stop()
    assert fetcher.wait(5000)


def test_failure_is_reported_and_worker_survives(qtbot) -> None:
    def render(req: FrameRequest) -> FrameResult:
        if req.n == 3:
            raise ValueError("GOP 0 does not decode")
        return FrameResult(req, {}, None, 0.0)

    fetcher = FrameFetcher(render, workers=2)
    with qtbot.waitSignal(fetcher.failed, timeout=5000) as failed:
        fetcher.request(3, (0,))
    assert failed.args[1] == "ValueError: GOP 0 does not decode"
    with qtbot.waitSignal(fetcher.ready, timeout=5000) as ready:
        fetcher.request(4, (0,))
    assert ready.args[0].request.n == 4
    closed = threading.Event()
    fetcher.stop(then=closed.set)
    assert fetcher.wait(5000) and closed.is_set()
