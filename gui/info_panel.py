"""The per-frame info panel: what the clip is, what the frame costs, how close it is to the source."""

from __future__ import annotations

import html
import logging
import math

from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QLabel, QSizePolicy, QVBoxLayout, QWidget

from .convert import matrix_name
from .session import FrameStats, Session
from .timeline import format_timecode

logger = logging.getLogger(__name__)


def _db(value: float) -> str:
    return "∞" if math.isinf(value) else f"{value:.2f}"


def _kbit(bits: float) -> str:
    return f"{bits / 1000:.2f} kbit" if bits >= 1000 else f"{bits:.0f} bit"


class InfoPanel(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = QLabel()
        self.label.setTextFormat(Qt.TextFormat.RichText)
        self.label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.label.setWordWrap(True)
        self.label.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Expanding)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.label)
        self.setMinimumWidth(230)
        self.rows: dict[str, str] = {}

    def clear(self) -> None:
        self.rows = {}
        self.label.setText("<i>no file</i>")

    def show_frame(self, session: Session, shown: tuple[int, ...], stats: FrameStats, seconds: float) -> None:
        """Fill the panel for frame ``stats.n`` of the slots ``shown`` (left, right in split view)."""
        clip = session.clip(shown[-1])
        info = clip.info
        n = stats.n
        rows: dict[str, str] = {
            "File": session.path.name,
            "Output": " | ".join(session.slots[i].name for i in shown),
            "Frame": f"{n} / {session.num_frames - 1}",
            "Time": format_timecode(n, info.fps),
            "Format": f"{info.width}x{info.height} {info.pix_fmt.value} {float(info.fps):.3f} fps",
            "Colour": f"{matrix_name(info.matrix)}, {'full' if info.color_range.value == 'pc' else 'limited'} range",
        }
        notes = session.notes(shown[-1])
        if notes:
            rows["Note"] = "; ".join(notes)
        if stats.bits is not None:
            b = stats.bits
            pixels = info.width * info.height
            cut = " (scene cut)" if session.stats is not None and b.gop_frames.start in session.stats.cuts else ""
            rows["GOP"] = f"{b.gop}: frames {b.gop_frames.start}-{b.gop_frames.stop - 1}{cut}"
            rows["GOP bits"] = f"{_kbit(b.gop_bits)}, {b.gop_bits / (len(b.gop_frames) * pixels):.4f} bpp"
            lat = b.latent_frames
            rows["Frame bits"] = (
                f"{_kbit(b.bits)}, {b.bits / pixels:.4f} bpp "
                f"(latent {b.latent}: {_kbit(b.latent_bits)} for frames {lat.start}-{lat.stop - 1})"
            )
        ref = session.reference
        if ref is None and len(shown) > 1:
            rows["PSNR against"] = session.slots[shown[0]].name
        for i, value in stats.psnr.items():
            name = session.slots[i].name
            if value is None:
                rows[f"PSNR {name}"] = "n/a"
            else:
                rows[f"PSNR {name}"] = f"Y {_db(value[0])} dB · YUV {_db(value[1])} dB"
        if ref is None and session.kind == "gnvc":
            rows["PSNR"] = session.slots[0].reason or "no source"
        rows["Render"] = f"{seconds * 1000:.0f} ms"
        self.rows = rows
        body = "".join(
            f"<tr><td style='color:#888;padding-right:8px'>{html.escape(k)}</td><td>{html.escape(v)}</td></tr>"
            for k, v in rows.items()
        )
        self.label.setText(f"<table>{body}</table>")
