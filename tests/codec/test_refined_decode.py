"""Decoding with refinement: windows across GOP borders, identical whatever the request order."""

import random
import threading

import numpy as np
import pytest

from ffmpeg_bridge import open_source
from vsgnvc.codec.decoder import Decoder
from vsgnvc.codec.encoder import Encoder, EncodeSettings


@pytest.fixture(scope="module")
def encoded(tiny_model, small_clip_y4m, tmp_path_factory):
    out = tmp_path_factory.mktemp("ref") / "bikes.gnvc"
    info, frames = open_source(small_clip_y4m)
    Encoder(tiny_model, "cpu").encode(info, frames, out, 13, EncodeSettings(rate=1), progress=False)
    return out


def same(a, b) -> bool:
    return all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def test_refinement_changes_output_and_is_deterministic(encoded, tiny_model):
    with Decoder(encoded, tiny_model, "cpu") as dec:
        assert dec.refines
        refined = list(dec.frames())
        plain = list(dec.frames(refine=False))
    with Decoder(encoded, tiny_model, "cpu") as again:
        refined2 = list(again.frames())
    assert len(refined) == len(plain) == 13
    assert not all(same(a, b) for a, b in zip(refined, plain, strict=True))
    assert all(same(a, b) for a, b in zip(refined, refined2, strict=True))


def test_strength_overrides_the_bitstreams_refinement(encoded, tiny_model):
    with Decoder(encoded, tiny_model, "cpu") as dec:
        default = list(dec.frames())
        plain = list(dec.frames(refine=False))
    with Decoder(encoded, tiny_model, "cpu", strength=0.05) as dec:
        weak = list(dec.frames())
    with Decoder(encoded, tiny_model, "cpu", strength=0.05) as dec:
        assert all(same(a, b) for a, b in zip(weak, list(dec.frames()), strict=True))
    assert not all(same(a, b) for a, b in zip(weak, default, strict=True))

    def distance(frames) -> float:
        return sum(float(np.abs(a[0].astype(np.int32) - b[0]).mean()) for a, b in zip(frames, plain, strict=True))

    assert distance(weak) < distance(default)  # less noise, closer to the plain decode
    with pytest.raises(ValueError, match="strength must be in"):
        Decoder(encoded, tiny_model, "cpu", strength=1.0)


def test_no_refine_option(encoded, tiny_model):
    with Decoder(encoded, tiny_model, "cpu", refine=False) as dec:
        assert not dec.refines


def test_random_order_and_threads_equal_sequential(encoded, tiny_model):
    with Decoder(encoded, tiny_model, "cpu") as dec:
        expected = list(dec.frames())
    with Decoder(encoded, tiny_model, "cpu", cache_gops=2) as dec:
        order = list(range(13))
        random.Random(5).shuffle(order)
        got: dict[int, tuple] = {}

        def work(ns):
            for n in ns:
                got[n] = dec.get_frame(n)

        threads = [threading.Thread(target=work, args=(order[i::3],)) for i in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert all(same(got[n], expected[n]) for n in range(13))
