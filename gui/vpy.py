"""Evaluate ``.vpy`` scripts in-process, each in its own VapourSynth environment (fresh ``vs.core``).

VapourSynth R81 lets one environment policy decide which core ``vs.core`` means. The first script the
previewer loads registers :class:`_ScriptPolicy` (unless a policy already exists): code outside a script
keeps a default environment, exactly as with the standalone policy, while each script runs in a new
environment whose outputs and core are destroyed when its session closes. If another policy was registered
first (``vs.core`` was used before any script), scripts run in that process-wide environment; the outputs
present before are put back afterwards.

Every video output becomes a :class:`VapourSynthClip`. Formats the pipe contract lacks (RGB, GRAY, 4:2:2,
other depths) are converted in VapourSynth to YUV 4:4:4 (BT.709 for RGB) so display, PSNR and export treat
every clip alike.
"""

from __future__ import annotations

import logging
import runpy
import sys
import threading
import traceback
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ffmpeg_bridge.video import ColorRange, Frame, PixelFormat, VideoInfo

if TYPE_CHECKING:
    import vapoursynth as vs

logger = logging.getLogger(__name__)

UNSPECIFIED = 2


class ScriptError(Exception):
    """A script failed to evaluate or produced nothing the previewer can show."""


# --------------------------------------------------------------------------- environments


def _make_policy_class() -> type:
    import vapoursynth as vs

    class _ScriptPolicy(vs.EnvironmentPolicy):
        """Thread-local current environment with a process default, like the standalone policy."""

        def __init__(self) -> None:
            self.api: Any = None
            self.default: Any = None
            self._local = threading.local()
            self._dead: set[int] = set()

        def on_policy_registered(self, special_api: Any) -> None:
            self.api = special_api
            self.default = special_api.create_environment()

        def on_policy_cleared(self) -> None:
            self.api = None

        def get_current_environment(self) -> Any:
            return getattr(self._local, "env", None) or self.default

        def set_environment(self, environment: Any) -> Any:
            previous = getattr(self._local, "env", None)
            self._local.env = environment
            return previous

        def is_alive(self, environment: Any) -> bool:
            return id(environment) not in self._dead

        def destroy(self, environment: Any) -> None:
            self._dead.add(id(environment))
            self.api.destroy_environment(environment)

    return _ScriptPolicy


_policy: Any = None
_policy_lock = threading.Lock()


def _script_policy() -> Any | None:
    """Our policy, registered on first use; ``None`` when another policy was registered first."""
    global _policy
    import vapoursynth as vs

    with _policy_lock:
        if _policy is None and not vs.has_policy():
            policy = _make_policy_class()()
            vs.register_policy(policy)
            _policy = policy
            logger.debug("registered the previewer's VapourSynth environment policy")
        return _policy


class ScriptEnvironment:
    """Where one script ran; :meth:`close` frees its core once no clip of it is used any more."""

    def __init__(self) -> None:
        import vapoursynth as vs

        self._policy = _script_policy()
        if self._policy is not None:
            self._data = self._policy.api.create_environment()
            self.environment = self._policy.api.wrap_environment(self._data)
            self.shared = False
        else:
            logger.info("a VapourSynth policy was registered before the previewer's: scripts share the process core")
            self._data = None
            self.environment = vs.get_current_environment()
            self.shared = True
        self.closed = False

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self._policy is not None and self._data is not None:
            data, self._data = self._data, None
            self._policy.destroy(data)


def run_script(path: Path) -> tuple[ScriptEnvironment, list[tuple[int, vs.VideoNode]]]:
    """Evaluate a script; returns its environment and its video outputs ``(index, node)`` by index.

    :raises ScriptError: the script raised, or set no video output.
    """
    import vapoursynth as vs

    path = Path(path).resolve()
    if not path.is_file():
        raise ScriptError(f"{path} does not exist" if not path.exists() else f"{path} is not a file")
    env = ScriptEnvironment()
    saved: dict[int, Any] = {}
    try:
        with env.environment.use():
            if env.shared:
                saved = dict(vs.get_outputs())
                vs.clear_outputs()
            try:
                _execute(path)
                outputs = dict(vs.get_outputs())
            finally:
                if env.shared:
                    vs.clear_outputs()
                    _restore_outputs(saved)
    except BaseException:
        env.close()
        raise
    nodes = [(i, out.clip) for i, out in sorted(outputs.items()) if isinstance(out, vs.VideoOutputTuple)]
    if not nodes:
        env.close()
        kinds = "only audio outputs" if outputs else "no output"
        raise ScriptError(f"{path.name}: the script sets {kinds}; call clip.set_output() on a video clip")
    return env, nodes


def _execute(path: Path) -> None:
    script_dir = str(path.parent)
    added = script_dir not in sys.path
    if added:
        sys.path.insert(0, script_dir)  # scripts import helper modules kept beside them
    try:
        runpy.run_path(str(path), run_name="__vapoursynth__")
    except SystemExit as exc:
        raise ScriptError(f"{path.name}: the script called exit({exc.code})") from None
    except Exception as exc:  # any failure of user code becomes one line naming where it happened
        raise ScriptError(f"{path.name}{_script_line(exc, path)}: {type(exc).__name__}: {exc}") from None
    finally:
        if added:
            sys.path.remove(script_dir)


def _script_line(exc: BaseException, path: Path) -> str:
    lines = [f.lineno for f in traceback.extract_tb(exc.__traceback__) if Path(f.filename).resolve() == path]
    if isinstance(exc, SyntaxError) and exc.lineno is not None:
        return f", line {exc.lineno}"
    return f", line {lines[-1]}" if lines else ""


def _restore_outputs(saved: dict[int, Any]) -> None:
    import vapoursynth as vs

    for index, out in saved.items():
        if isinstance(out, vs.VideoOutputTuple):
            out.clip.set_output(index, alpha=out.alpha, alt_output=out.alt_output)
        else:
            out.set_output(index)


# --------------------------------------------------------------------------- clips


def _pipe_formats() -> dict[int, PixelFormat]:
    import vapoursynth as vs

    return {
        vs.YUV420P8: PixelFormat.YUV420P,
        vs.YUV420P10: PixelFormat.YUV420P10,
        vs.YUV444P8: PixelFormat.YUV444P,
        vs.YUV444P10: PixelFormat.YUV444P10,
    }


def _frame_range(props: Any) -> ColorRange:
    """Colour range from R81's ``_Range`` (0 limited, 1 full) or the deprecated ``_ColorRange`` (0 full)."""
    if "_Range" in props:
        return ColorRange.FULL if int(props["_Range"]) == 1 else ColorRange.LIMITED
    if "_ColorRange" in props:
        return ColorRange.FULL if int(props["_ColorRange"]) == 0 else ColorRange.LIMITED
    return ColorRange.LIMITED


class VapourSynthClip:
    """One video output of a script.

    :param node: the output clip.
    :param index: its output index (shown as the tab name).
    :raises ScriptError: variable size or format, or no frames.
    """

    def __init__(self, node: vs.VideoNode, index: int, environment: ScriptEnvironment | None = None) -> None:
        self.index = index
        self.name = f"Output {index}"
        self.environment = environment
        self.note: str | None = None
        if node.format is None or node.width == 0 or node.height == 0:
            raise ScriptError(f"output {index} has a variable format or size, which cannot be previewed")
        if node.num_frames == 0:
            raise ScriptError(f"output {index} has no frames")
        formats = _pipe_formats()
        props = node.get_frame(0).props
        matrix = int(props.get("_Matrix", UNSPECIFIED))
        if node.format.id not in formats:
            node, matrix = self._to_yuv444(node, matrix, props)
        frame_props = node.get_frame(0).props
        fps = Fraction(node.fps.numerator, node.fps.denominator) if node.fps.numerator else Fraction(0)
        if fps <= 0:
            fps = Fraction(25)
            self.note = "variable frame rate: playing at 25 fps"
        self.node = node
        self.info = VideoInfo(
            width=node.width,
            height=node.height,
            fps=fps,
            pix_fmt=formats[node.format.id],
            color_range=_frame_range(frame_props),
            matrix=matrix,
            transfer=int(frame_props.get("_Transfer", UNSPECIFIED)),
            primaries=int(frame_props.get("_Primaries", UNSPECIFIED)),
            num_frames=node.num_frames,
        )
        self._dtype = self.info.pix_fmt.dtype

    def _to_yuv444(self, node: vs.VideoNode, matrix: int, props: Any) -> tuple[vs.VideoNode, int]:
        import vapoursynth as vs

        fmt = node.format
        assert fmt is not None
        deep = fmt.sample_type == vs.FLOAT or fmt.bits_per_sample > 8 or fmt.color_family == vs.RGB
        target = vs.YUV444P10 if deep else vs.YUV444P8
        if fmt.color_family == vs.RGB:
            # RGB has no matrix; it is carried to YUV with BT.709, which the display then undoes.
            matrix = 1
            converted = node.resize.Point(format=target, matrix_s="709", range_s="limited")
        elif fmt.color_family == vs.GRAY:
            converted = node.resize.Point(format=target)
        else:
            # 4:2:2 etc.: only the chroma layout and depth change, the matrix stays what the clip says.
            converted = node.resize.Bicubic(format=target)
        logger.info("output %d: %s converted to %s for preview", self.index, fmt.name, converted.format.name)
        return converted, matrix

    @property
    def num_frames(self) -> int:
        return self.node.num_frames

    def get_frame(self, n: int) -> Frame:
        if not 0 <= n < self.node.num_frames:
            raise IndexError(f"frame {n} out of range 0..{self.node.num_frames - 1}")
        try:
            frame = self.node.get_frame(n)
        except Exception as exc:  # vs.Error from any filter of the script
            raise ScriptError(f"{self.name}, frame {n}: {exc}") from None
        with frame:
            return tuple(np.array(np.asarray(frame[p]), dtype=self._dtype, copy=True) for p in range(3))

    def close(self) -> None:
        self.node = None  # type: ignore[assignment]
