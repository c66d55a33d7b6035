"""Adaptive binary range coding: bits whose probabilities are learned, per context, from the bits already coded.

For small side information (a few hundred flags and vector components per frame) whose statistics change from
clip to clip, so no stored table fits: each context keeps integer counts of the zeros and ones it has seen, the
next bit is coded with their ratio, and the decoder, reading the same bits in the same order, keeps the same
counts. Probabilities come from integers only, so both sides agree on every machine.
"""

from __future__ import annotations

import constriction
import numpy as np

_RESCALE_AT = 1024
"""Counts are halved when a context has seen this many bits: recent statistics weigh more."""


class BinaryContexts:
    """Counts of zeros and ones of ``count`` contexts, each starting at one of each."""

    def __init__(self, count: int) -> None:
        self.zeros = [1] * count
        self.ones = [1] * count

    def probability_of_one(self, context: int) -> float:
        return self.ones[context] / (self.zeros[context] + self.ones[context])

    def update(self, context: int, bit: int) -> None:
        if bit:
            self.ones[context] += 1
        else:
            self.zeros[context] += 1
        if self.zeros[context] + self.ones[context] >= _RESCALE_AT:
            self.zeros[context] = (self.zeros[context] + 1) // 2
            self.ones[context] = (self.ones[context] + 1) // 2


class AdaptiveBitWriter:
    """Range-codes bits, each with the probability its context has learned."""

    def __init__(self) -> None:
        self._encoder = constriction.stream.queue.RangeEncoder()

    def bit(self, value: int, contexts: BinaryContexts, context: int) -> None:
        value = int(bool(value))
        self._encoder.encode(value, constriction.stream.model.Bernoulli(contexts.probability_of_one(context), perfect=False))
        contexts.update(context, value)

    def finish(self) -> bytes:
        return self._encoder.get_compressed().astype("<u4").tobytes()


class AdaptiveBitReader:
    """Reads what :class:`AdaptiveBitWriter` wrote, with the same contexts in the same order.

    A damaged or truncated string reads as other bits (never past its end); callers bound how many they read.
    """

    def __init__(self, data: bytes) -> None:
        if len(data) % 4:
            raise ValueError(f"adaptive bit string of {len(data)} bytes is not whole 32-bit words")
        self._decoder = constriction.stream.queue.RangeDecoder(np.frombuffer(data, dtype="<u4").astype(np.uint32))

    def bit(self, contexts: BinaryContexts, context: int) -> int:
        p = contexts.probability_of_one(context)
        value = int(self._decoder.decode(constriction.stream.model.Bernoulli(p, perfect=False)))
        contexts.update(context, value)
        return value
