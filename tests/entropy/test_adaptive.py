"""Adaptive binary range coding: exact round trips, learned probabilities that pay off, damage that reads as bits."""

import random

import pytest

from vsgnvc.entropy.adaptive import AdaptiveBitReader, AdaptiveBitWriter, BinaryContexts


def _write(bits: list[tuple[int, int]]) -> bytes:
    writer, contexts = AdaptiveBitWriter(), BinaryContexts(3)
    for value, context in bits:
        writer.bit(value, contexts, context)
    return writer.finish()


def test_bits_round_trip():
    rng = random.Random(0)
    bits = [(int(rng.random() < (0.1, 0.5, 0.9)[c]), c) for c in (rng.randrange(3) for _ in range(3000))]
    reader, contexts = AdaptiveBitReader(_write(bits)), BinaryContexts(3)
    assert [reader.bit(contexts, c) for _, c in bits] == [v for v, _ in bits]


def test_skewed_contexts_cost_far_less_than_a_bit_each():
    bits = [(int(i % 20 == 0), 0) for i in range(4000)]  # p(1) = 0.05: about 0.29 bits each
    assert 8 * len(_write(bits)) < 0.35 * len(bits)


def test_probabilities_follow_recent_statistics():
    contexts = BinaryContexts(1)
    for _ in range(5000):
        contexts.update(0, 1)
    assert contexts.probability_of_one(0) > 0.99
    for _ in range(2000):
        contexts.update(0, 0)
    assert contexts.probability_of_one(0) < 0.1  # counts are halved as they grow, so old ones fade


def test_a_string_of_partial_words_is_rejected():
    with pytest.raises(ValueError, match="not whole 32-bit words"):
        AdaptiveBitReader(b"\x01\x02\x03")


def test_damaged_strings_read_as_other_bits():
    data = bytearray(_write([(i % 3 == 0, 0) for i in range(500)]))
    data[len(data) // 2] ^= 0xFF
    reader, contexts = AdaptiveBitReader(bytes(data)), BinaryContexts(1)
    assert all(reader.bit(contexts, 0) in (0, 1) for _ in range(2000))  # past its end too: bounded by the caller
