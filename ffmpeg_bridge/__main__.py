"""``python -m ffmpeg_bridge INPUT [--audio-from FILE] -- FFMPEG_OUTPUT_ARGS...``

Feeds INPUT (a Y4M file, ``-`` for Y4M on stdin, any video file, or a file type an installed
package registers as a source: vsgnvc adds ``.gnvc`` and ``.vpy``) to ffmpeg with the given
output arguments, e.g.::

    python -m ffmpeg_bridge clip.y4m -- -c:v libx264 -crf 18 out.mkv
    vspipe -c y4m script.vpy - | python -m ffmpeg_bridge - --audio-from src.mkv -- -c:v libx265 out.mkv

Exit code: ffmpeg's own, or 2 with a one-line message when the bridge cannot start
(bad arguments, unreadable input, no ffmpeg). ffmpeg's stderr is shown as it runs.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Iterator, Sequence
from importlib.metadata import entry_points
from pathlib import Path

from .errors import BridgeError, FfmpegError, SourceError
from .locate import locate_ffmpeg
from .sink import FfmpegSink
from .sources import open_source
from .video import Frame, VideoInfo
from .y4m import Y4MError

logger = logging.getLogger("ffmpeg_bridge")

PROG = "python -m ffmpeg_bridge"
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

SOURCE_ENTRY_POINTS = "ffmpeg_bridge.sources"
"""Entry-point group for inputs the bridge does not read itself: the name is a file suffix without its dot, the
value ``opener(path, max_frames) -> (VideoInfo, frames)``. Packages above the bridge register here (vsgnvc:
``gnvc`` and ``vpy``), so the bridge runs their code without importing them."""

Opener = Callable[[Path, int | None], tuple[VideoInfo, Iterator[Frame]]]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        usage=f"{PROG} INPUT [--audio-from FILE] [-v] -- FFMPEG_OUTPUT_ARGS...\n       {PROG} --version",
        description="Pipe a Y4M stream or a video file into ffmpeg as Y4M, with colour tags and optional audio.",
    )
    parser.add_argument("input", nargs="?", help="Y4M file, '-' for Y4M on stdin, any video file, .gnvc or .vpy")
    parser.add_argument("--audio-from", type=Path, metavar="FILE", help="copy the audio of FILE into the output")
    parser.add_argument("--max-frames", type=int, metavar="N", help="send at most N frames")
    parser.add_argument("-v", "--verbose", action="store_true", help="log the bridge's own steps on stderr")
    parser.add_argument("--version", action="store_true", help="print which ffmpeg is used and exit")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    ours, ffmpeg_args = (argv[: argv.index("--")], argv[argv.index("--") + 1 :]) if "--" in argv else (argv, [])
    parser = _parser()
    try:
        args = parser.parse_args(ours)
    except SystemExit as exc:  # argparse already printed its message (or the help)
        return 0 if exc.code in (0, None) else EXIT_USAGE
    _setup_logging(args.verbose)
    try:
        if args.version:
            sys.stdout.write(locate_ffmpeg().describe() + "\n")
            return 0
        if args.input is None:
            return _usage_error("missing INPUT")
        if not ffmpeg_args:
            return _usage_error("missing ffmpeg output arguments after '--' (e.g. -- -c:v ffv1 out.mkv)")
        if args.max_frames is not None and args.max_frames < 0:
            return _usage_error("--max-frames must not be negative")
        if args.input == "-" and sys.stdin.isatty():
            return _usage_error("INPUT is '-' but stdin is a terminal: pipe Y4M into it (e.g. vspipe -c y4m x.vpy - |)")
        if args.audio_from is not None and not args.audio_from.is_file():
            return _usage_error(f"--audio-from file {args.audio_from} does not exist")
        return _run(args.input, ffmpeg_args, args.audio_from, args.max_frames)
    except FfmpegError as exc:
        # ffmpeg's own stderr has already been shown; add one line of ours.
        _say(str(exc))
        return exc.returncode if exc.returncode > 0 else 128 + (-exc.returncode or 1)
    except (BridgeError, Y4MError, OSError, ValueError) as exc:
        return _usage_error(str(exc))
    except KeyboardInterrupt:
        _say("interrupted")
        return EXIT_INTERRUPTED


def _run(source: str, ffmpeg_args: list[str], audio_from: Path | None, max_frames: int | None) -> int:
    info, frames = _open(source, max_frames)
    logger.info("input: %dx%d %s @ %s fps", info.width, info.height, info.pix_fmt.value, info.fps)
    with FfmpegSink(info, ffmpeg_args, audio_from=audio_from, echo_stderr=sys.stderr.buffer) as sink:
        sink.write_all(frames)
    logger.info("sent %d frames%s", sink.frames_written, " (ffmpeg stopped early)" if sink.stopped_early else "")
    return sink.returncode or 0


def _open(source: str, max_frames: int | None) -> tuple[VideoInfo, Iterator[Frame]]:
    """A registered source's opener for the input's suffix, else the bridge's own :func:`open_source`."""
    opener = _registered_opener(source)
    if opener is None:
        return open_source(source, max_frames=max_frames)
    try:
        return opener(Path(source), max_frames)
    except (BridgeError, OSError, ValueError):
        raise
    except Exception as exc:  # the registering package's own error types (e.g. vapoursynth.Error): one line too
        raise SourceError(str(exc)) from exc


def _registered_opener(source: str) -> Opener | None:
    suffix = Path(source).suffix.lower().removeprefix(".") if source != "-" else ""
    if not suffix:
        return None
    found = entry_points(group=SOURCE_ENTRY_POINTS, name=suffix)
    if not found:
        return None
    entry = next(iter(found))
    try:
        return entry.load()
    except Exception as exc:
        raise SourceError(f"the {entry.value} source registered for .{suffix} files cannot be loaded: {exc}") from exc


def _usage_error(message: str) -> int:
    _say(f"error: {message}")
    return EXIT_USAGE


def _say(message: str) -> None:
    sys.stderr.write(f"{PROG}: {message}\n")
    sys.stderr.flush()


_handler: logging.Handler | None = None


def _setup_logging(verbose: bool) -> None:
    # Only the CLI attaches a handler, and only to stderr: stdout may carry video.
    global _handler
    if _handler is not None:
        logger.removeHandler(_handler)
    _handler = logging.StreamHandler(sys.stderr)
    _handler.setFormatter(logging.Formatter(f"{PROG}: %(message)s"))
    logger.addHandler(_handler)
    logger.setLevel(logging.INFO if verbose else logging.WARNING)


if __name__ == "__main__":
    sys.exit(main())
