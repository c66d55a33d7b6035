"""vsgnvc.decode: a real core, real files from the tiny model."""

from __future__ import annotations

import logging
import random
from fractions import Fraction

import numpy as np
import pytest
import torch
import vapoursynth as vs

from vsgnvc.bitstream import GnvcReader
from tests.support.fuzz_bitstream import map_file
from vsgnvc.codec.decoder import Decoder
from vsgnvc.vs import decode
from vsgnvc.vs.loading import load_model


def test_clip_matches_header(encoded, model_dir):
    clip = decode(encoded, model_path=model_dir)
    assert (clip.width, clip.height, clip.num_frames) == (96, 40, 13)
    assert clip.format.id == vs.YUV420P8
    assert Fraction(clip.fps.numerator, clip.fps.denominator) == 25


def test_planes_equal_python_decoder(encoded, model_dir, render, same_frames):
    model = load_model(model_dir, torch.device("cpu"))  # the instance the filters share
    for refine in (False, True):
        with Decoder(encoded, model, "cpu", refine=refine) as dec:
            expected = list(dec.frames())
        got = render(decode(encoded, refine=refine, model_path=model_dir))
        assert same_frames(got, expected)


def test_refine_changes_output(encoded, model_dir, render, same_frames):
    plain = render(decode(encoded, refine=False, model_path=model_dir))
    refined = render(decode(encoded, refine=True, model_path=model_dir))
    assert not same_frames(plain, refined)


def test_strength_matches_the_decoder_api(encoded, model_dir, render, same_frames):
    with Decoder(encoded, load_model(model_dir, torch.device("cpu")), "cpu", strength=0.05) as dec:
        expected = list(dec.frames())
    got = render(decode(encoded, strength=0.05, model_path=model_dir))
    assert same_frames(got, expected)
    assert not same_frames(got, render(decode(encoded, model_path=model_dir)))


def test_concurrent_random_order_is_bit_identical(encoded, model_dir, render, same_frames, threads):
    threads(4)
    sequential = render(decode(encoded, model_path=model_dir))
    order = list(range(13))
    random.Random(7).shuffle(order)
    for cache, streams in ((1, 2), (4, 1)):
        clip = decode(encoded, model_path=model_dir, cache_windows=cache, num_streams=streams)
        assert same_frames(render(clip, order), sequential)


def test_frame_props(encoded_cut, model_dir):
    clip = decode(encoded_cut, model_path=model_dir)
    with GnvcReader(encoded_cut) as reader:
        gop_bits = [reader.gop_size_bytes(k) * 8 for k in range(reader.num_gops)]
        header = reader.header
    assert header.matrix == 1 and header.color_range == 0
    total = 0.0
    for n in range(clip.num_frames):
        props = clip.get_frame(n).props
        assert props["_Matrix"] == 1
        assert props["_Range"] == vs.RANGE_LIMITED == 0  # R81: 0 limited, 1 full
        assert (props["_Transfer"], props["_Primaries"]) == (2, 2)
        assert (props["_DurationNum"], props["_DurationDen"]) == (1, 25)
        assert props["GNVCGop"] == n // 9
        assert props["_SceneChangePrev"] == (1 if n == 9 else 0)  # the inverted shot starts GOP 1
        assert props["_SceneChangeNext"] == (1 if n == 8 else 0)
        total += props["GNVCBits"]
    assert total == pytest.approx(sum(gop_bits))
    assert clip.get_frame(3).props["GNVCBits"] == pytest.approx(gop_bits[0] / 9)


def test_full_range_ten_bit_round_trip(src_clip, model_dir, tmp_path):
    from vsgnvc.vs import encode_clip

    clip10 = src_clip.resize.Bicubic(format=vs.YUV420P10, matrix_in_s="709", range_s="full").std.SetFrameProps(
        _Matrix=5
    )
    out = tmp_path / "full10.gnvc"
    encode_clip(clip10, out, model_path=model_dir)
    with GnvcReader(out) as reader:
        assert (reader.header.color_range, reader.header.matrix) == (1, 5)
    dec = decode(out, refine=False, model_path=model_dir)
    assert dec.format.id == vs.YUV420P10
    props = dec.get_frame(0).props
    assert (props["_Range"], props["_Matrix"]) == (vs.RANGE_FULL, 5)
    y = np.asarray(dec.get_frame(0)[0])
    assert y.dtype == np.uint16 and y.max() <= 1023


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"refine": "yes"}, "refine must be True or False"),
        ({"num_streams": 0}, "num_streams must be >= 1"),
        ({"cache_windows": 0}, "cache_windows must be >= 1"),
        ({"device_index": -1}, "device_index must be >= 0"),
        ({"fp16": "no"}, "fp16 must be True, False or None"),
        ({"strength": 1.0}, "strength must be a number in"),
    ],
)
def test_bad_parameters(encoded, index_only_model, kwargs, message):
    with pytest.raises(vs.Error, match=f"^gnvc.decode: {message}"):
        decode(encoded, model_path=index_only_model, **kwargs)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_requested_but_absent(encoded, index_only_model):
    with pytest.raises(vs.Error, match=r"^gnvc.decode: CUDA device 0 requested but CUDA is not available"):
        decode(encoded, device_index=0, model_path=index_only_model)
    with pytest.raises(vs.Error, match=r"^gnvc.decode: fp16=True needs a CUDA device"):
        decode(encoded, fp16=True, model_path=index_only_model)


def test_bad_files(tmp_path, encoded, model_dir, other_model_dir):
    with pytest.raises(vs.Error, match=r"^gnvc.decode: .*missing.gnvc does not exist"):
        decode(tmp_path / "missing.gnvc", model_path=model_dir)
    with pytest.raises(vs.Error, match=r"^gnvc.decode: path must be a file path"):
        decode(3, model_path=model_dir)  # type: ignore[arg-type]
    garbage = tmp_path / "garbage.gnvc"
    garbage.write_bytes(b"GNVC" + bytes(range(200)))
    with pytest.raises(vs.Error, match=r"^gnvc.decode: cannot decode: ") as err:
        decode(garbage, model_path=model_dir)
    assert "\n" not in str(err.value)
    truncated = tmp_path / "truncated.gnvc"
    truncated.write_bytes(encoded.read_bytes()[:60])  # inside the header
    with pytest.raises(vs.Error, match=r"^gnvc.decode: cannot decode: "):
        decode(truncated, model_path=model_dir)
    with pytest.raises(vs.Error, match=r"^gnvc.decode: cannot decode: .*written by model 'tiny-test'"):
        decode(encoded, model_path=other_model_dir)
    with pytest.raises(vs.Error, match=r"^gnvc.decode: model_path .* is not a vsgnvc model folder"):
        decode(encoded, model_path=tmp_path)


def test_truncated_file_gives_its_complete_gops_with_a_warning(tmp_path, encoded, model_dir, caplog, frame_planes):
    """Like a source filter on a partial download: the whole GOPs as a shorter clip, and a warning."""
    with GnvcReader(encoded) as reader:
        assert reader.spans == (range(0, 9), range(9, 13))
    chunks = map_file(encoded.read_bytes()).chunks
    cut_at = chunks[1][0] + chunks[1][1] // 2  # inside GOP 1's chunk
    truncated = tmp_path / "truncated.gnvc"
    truncated.write_bytes(encoded.read_bytes()[:cut_at])
    with caplog.at_level(logging.WARNING, logger="vsgnvc"):
        clip = decode(truncated, refine=False, model_path=model_dir)
    assert clip.num_frames == 9
    summary = f"{truncated} is damaged: 9 of 13 frames recovered (1 complete GOP), frames 9-12 lost"
    assert f"gnvc.decode: {summary}" in caplog.text
    intact = decode(encoded, refine=False, model_path=model_dir)
    for n in (0, 8):
        got, want = frame_planes(clip.get_frame(n)), frame_planes(intact.get_frame(n))
        assert all(np.array_equal(a, b) for a, b in zip(got, want, strict=True))
    nothing = tmp_path / "nothing.gnvc"
    nothing.write_bytes(encoded.read_bytes()[: chunks[0][0] + 20])  # inside GOP 0
    with pytest.raises(vs.Error, match=r"^gnvc.decode: cannot decode: .* 0 of 13 frames recovered .*nothing to decode"):
        decode(nothing, model_path=model_dir)
