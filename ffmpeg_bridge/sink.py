"""Stream frames into an ffmpeg process as Y4M on its stdin.

::

    frames -> Y4MWriter -> pipe -> ffmpeg -f yuv4mpegpipe -i pipe:0 [-i audio] <output args>
                                      stderr -> drain thread -> tail (+ optional echo)

ffmpeg's stderr is drained by a thread so the pipe never fills and blocks ffmpeg.
When ffmpeg stops reading (its own ``-frames:v``, an error, a full disk) the next write
fails with EPIPE; the sink then waits for ffmpeg and either reports a clean early stop
(exit code 0) or raises :class:`FfmpegError` with the exit code and ffmpeg's last words.

A single local output file is written under a temporary name in the same folder and
renamed into place only when ffmpeg succeeds; a failed or aborted run leaves nothing.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import subprocess
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from .errors import FfmpegError, FfmpegNotFoundError
from .ffmpeg_args import audio_args, can_write_atomically, color_args, find_output_file, replace_output
from .locate import FfmpegBinary, locate_ffmpeg
from .video import Frame, VideoInfo
from .y4m import Y4MWriter

logger = logging.getLogger(__name__)

STDERR_TAIL_BYTES = 16 * 1024
_TERMINATE_GRACE_S = 5.0
_OUTPUT_REFUSED = "Error opening output file"


class FfmpegSink:
    """Context manager that feeds frames to ffmpeg.

    Example::

        with FfmpegSink(info, ["-c:v", "libx264", "-crf", "20", "out.mkv"]) as sink:
            sink.write_all(frames)
        # out.mkv is complete here; a failure raised FfmpegError instead

    :param info: what the frames are; also the source of the colour tags passed to ffmpeg.
    :param output_args: ffmpeg output arguments, ending with the output name (``out.mkv``,
        ``-`` for stdout, ``-f null -``...).
    :param audio_from: a file whose audio (if any) is copied next to the video; the output
        ends with the shorter of the two.
    :param ffmpeg: the binary to run; defaults to :func:`locate_ffmpeg`.
    :param echo_stderr: where to copy ffmpeg's stderr as it arrives (e.g. ``sys.stderr.buffer``
        for a CLI); by default it is only kept (its tail goes into errors) and logged at DEBUG.
    :param stdout: ffmpeg's stdout (file object or descriptor); inherited by default, which
        is what ``-`` outputs want.
    :param atomic: write a single output file under a temporary name and rename it on success.
    """

    def __init__(
        self,
        info: VideoInfo,
        output_args: Sequence[str],
        *,
        audio_from: Path | None = None,
        ffmpeg: FfmpegBinary | None = None,
        echo_stderr: IO[bytes] | None = None,
        stdout: IO[bytes] | int | None = None,
        atomic: bool = True,
    ) -> None:
        if not output_args:
            raise ValueError("ffmpeg output arguments are empty: give at least an output name")
        self.info = info
        self.output_args = list(output_args)
        self.audio_from = Path(audio_from) if audio_from is not None else None
        self.ffmpeg = ffmpeg
        self.echo_stderr = echo_stderr
        self.stdout = stdout
        self.atomic = atomic
        self.returncode: int | None = None
        self.stopped_early = False
        self.command: list[str] = []
        self.output_path: Path | None = None
        self._tmp_path: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._writer: Y4MWriter | None = None
        self._stderr_thread: threading.Thread | None = None
        self._stderr_tail = bytearray()
        self._input_closed = False
        self._error: FfmpegError | None = None

    # ----------------------------------------------------------------- lifecycle

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def start(self) -> None:
        """Spawn ffmpeg.

        :raises FfmpegError: when the output file exists and ``-y`` was not given (exit code 1,
            as ffmpeg itself would do without a terminal).
        :raises FfmpegNotFoundError: when ffmpeg cannot be started.
        """
        if self._proc is not None:
            raise RuntimeError("FfmpegSink already started")
        binary = self.ffmpeg or locate_ffmpeg()
        self.ffmpeg = binary
        args = self._prepare_output()
        self.command = self._build_command(binary, args)
        logger.debug("starting %s", " ".join(self.command))
        try:
            self._proc = subprocess.Popen(
                self.command,
                stdin=subprocess.PIPE,
                stdout=self.stdout,
                stderr=subprocess.PIPE,
                bufsize=0,
            )
        except OSError as exc:
            raise FfmpegNotFoundError(f"cannot run {binary.path}: {exc}") from None
        assert self._proc.stdin is not None and self._proc.stderr is not None
        self._writer = Y4MWriter(self._proc.stdin, self.info)
        self._stderr_thread = threading.Thread(
            target=self._drain_stderr, args=(self._proc.stderr,), name="ffmpeg-stderr", daemon=True
        )
        self._stderr_thread.start()

    def write(self, frame: Frame) -> bool:
        """Send one frame.

        :returns: ``True`` if ffmpeg took it, ``False`` once ffmpeg has stopped reading on
            its own with exit code 0 (e.g. ``-frames:v``); later frames are then dropped.
        :raises FfmpegError: when ffmpeg stopped with a non-zero exit code.
        :raises ValueError: when the frame does not match ``info``.
        """
        if self._writer is None:
            raise RuntimeError("FfmpegSink.write() before start()")
        if self._input_closed:
            return False
        try:
            self._writer.write(frame)
        except (BrokenPipeError, ConnectionResetError):
            logger.debug("ffmpeg closed its input after %d frames", self._writer.frames_written)
            self._finish()
            self.stopped_early = True
            logger.info("ffmpeg stopped reading after %d frames (exit code 0)", self.frames_written)
            return False
        return True

    def write_all(self, frames: Iterable[Frame]) -> int:
        """Send frames until they run out or ffmpeg stops reading; returns how many it took."""
        for frame in frames:
            if not self.write(frame):
                break
        return self.frames_written

    def close(self, timeout: float | None = None) -> int:
        """End the input, wait for ffmpeg and put the output file in place.

        :param timeout: seconds to wait for ffmpeg to finish; ``None`` waits as long as it encodes.
        :returns: ffmpeg's exit code (always 0: non-zero raises).
        :raises FfmpegError: when ffmpeg exits non-zero or outlives ``timeout`` (then it is killed).
        """
        if self._proc is None:
            raise RuntimeError("FfmpegSink.close() before start()")
        return self._finish(timeout)

    def abort(self) -> None:
        """Stop ffmpeg now and discard the output (used when the frame source fails)."""
        proc = self._proc
        if proc is None or self.returncode is not None:
            self._discard_tmp()
            return
        self._input_closed = True
        with contextlib.suppress(OSError):
            proc.stdin.close()  # type: ignore[union-attr]
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(_TERMINATE_GRACE_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.returncode = proc.returncode
        self._join_stderr()
        self._discard_tmp()
        logger.debug("ffmpeg aborted (exit code %s)", self.returncode)

    # ----------------------------------------------------------------- state

    @property
    def frames_written(self) -> int:
        """Frames handed to ffmpeg's pipe (ffmpeg may not have used all of them)."""
        return self._writer.frames_written if self._writer is not None else 0

    @property
    def stderr_tail(self) -> str:
        """The last bytes ffmpeg wrote on stderr, decoded."""
        return bytes(self._stderr_tail).decode("utf-8", "replace")

    # ----------------------------------------------------------------- internals

    def _prepare_output(self) -> list[str]:
        args = self.output_args
        target = find_output_file(args)
        self.output_path = target
        if target is None:
            return args
        # ffmpeg reading stdin cannot ask "Overwrite? [y/N]": it refuses, and ffmpeg 9 then
        # exits with code 0 having written nothing. Refuse first, with a clear error.
        if "-y" not in args and (target.exists() or target.is_symlink()):
            raise FfmpegError(1, message=f"output file {target} already exists (pass -y to overwrite)")
        if not self.atomic or not can_write_atomically(target):
            return args
        self._tmp_path = target.with_name(f".{target.name}.partial-{secrets.token_hex(4)}{target.suffix}")
        return replace_output(args, self._tmp_path)

    def _build_command(self, binary: FfmpegBinary, output_args: list[str]) -> list[str]:
        cmd = [str(binary.path), "-hide_banner"]
        if self.echo_stderr is None:
            cmd.append("-nostats")  # progress lines would only crowd the kept tail
        # Colour tags are decoder options of the Y4M input: the decoded frames then carry them,
        # and ffmpeg (7.1+) takes an encoder's tags from its frames, ignoring output-side options.
        cmd += [*color_args(self.info, output_args), "-f", "yuv4mpegpipe", "-i", "pipe:0"]
        if self.audio_from is not None:
            if "-an" in output_args:
                logger.warning("audio_from=%s ignored: the output arguments contain -an", self.audio_from)
            else:
                cmd += ["-i", str(self.audio_from), *audio_args(output_args)]
        cmd += output_args
        return cmd

    def _finish(self, timeout: float | None = None) -> int:
        proc = self._proc
        assert proc is not None
        if self._error is not None:
            raise self._error
        if self.returncode is not None:
            return self.returncode
        self._input_closed = True
        with contextlib.suppress(OSError):  # EPIPE when ffmpeg is already gone
            proc.stdin.close()  # type: ignore[union-attr]
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            self.returncode = proc.returncode
            self._join_stderr()
            self._discard_tmp()
            self._error = FfmpegError(
                proc.returncode, self.stderr_tail, f"ffmpeg did not finish within {timeout} s after its input ended"
            )
            raise self._error from None
        self.returncode = proc.returncode
        self._join_stderr()
        if self.returncode == 0 and _OUTPUT_REFUSED in self.stderr_tail:
            # e.g. a second output that already exists: ffmpeg 9 says so but exits with 0.
            self._discard_tmp()
            self.returncode = 1
            self._error = FfmpegError(1, self.stderr_tail)
            raise self._error
        if self.returncode != 0:
            self._discard_tmp()
            self._error = FfmpegError(self.returncode, self.stderr_tail)
            raise self._error
        if self._tmp_path is not None and self.output_path is not None and self._tmp_path.exists():
            os.replace(self._tmp_path, self.output_path)
            logger.debug("wrote %s", self.output_path)
        return self.returncode

    def _drain_stderr(self, pipe: IO[bytes]) -> None:
        fd = pipe.fileno()
        debug = logger.isEnabledFor(logging.DEBUG)
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            self._stderr_tail += chunk
            if len(self._stderr_tail) > STDERR_TAIL_BYTES:
                del self._stderr_tail[: len(self._stderr_tail) - STDERR_TAIL_BYTES]
            if self.echo_stderr is not None:
                with contextlib.suppress(OSError, ValueError):
                    self.echo_stderr.write(chunk)
                    self.echo_stderr.flush()
            if debug:
                for line in chunk.decode("utf-8", "replace").splitlines():
                    logger.debug("ffmpeg: %s", line)
        pipe.close()

    def _join_stderr(self) -> None:
        if self._stderr_thread is not None:
            self._stderr_thread.join()

    def _discard_tmp(self) -> None:
        if self._tmp_path is not None:
            with contextlib.suppress(FileNotFoundError):
                self._tmp_path.unlink()
