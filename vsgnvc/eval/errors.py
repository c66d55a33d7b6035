"""The one exception type of the evaluation layer."""

from __future__ import annotations

import logging

logger = logging.getLogger(__name__)


class EvalError(RuntimeError):
    """An external tool failed or produced something unusable.

    Raised with a one-line message naming the step (``"vmaf: ..."``, ``"x264 encode: ..."``).
    Bad arguments raise :class:`ValueError` instead.
    """
