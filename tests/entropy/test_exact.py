"""The exact networks give the same bits whatever the summation order or thread count."""

import subprocess
import sys

import torch

from vsgnvc.entropy.exact import ExactConv2d, ExactNet, ExactUpsample, to_grid


def make_net() -> ExactNet:
    torch.manual_seed(3)
    net = ExactNet([ExactUpsample(), ExactConv2d(8, 32), ExactConv2d(32, 16, 1)])
    net.quantize_()
    return net.eval()


def test_exact_path_matches_float_path_closely():
    net = make_net()
    x = to_grid(torch.randn(2, 8, 6, 10))
    exact = net.forward_exact(x)
    approx = net(x.float())
    assert exact.dtype == torch.float64
    assert torch.allclose(exact.float(), approx, atol=2e-3)


def test_exact_path_is_independent_of_batching_and_order():
    net = make_net()
    x = to_grid(torch.randn(3, 8, 6, 10) * 4)
    whole = net.forward_exact(x)
    split = torch.cat([net.forward_exact(x[i : i + 1]) for i in range(3)])
    assert torch.equal(whole, split)
    # Reversing the input-channel order (and the weights with it) changes every summation order.
    conv = net.layers[1]
    flipped = ExactConv2d(8, 32)
    flipped.weight.data = conv.weight.data.flip(1)
    flipped.bias.data = conv.bias.data.clone()
    up = ExactUpsample()(x)
    assert torch.equal(conv.forward_exact(up), flipped.forward_exact(up.flip(1)))


def test_exact_path_identical_across_thread_counts(tmp_path):
    script = tmp_path / "run.py"
    script.write_text(
        "import sys, torch, hashlib\n"
        "torch.set_num_threads(int(sys.argv[1]))\n"
        "from vsgnvc.entropy.exact import ExactConv2d, ExactNet, ExactUpsample, to_grid\n"
        "torch.manual_seed(3)\n"
        "net = ExactNet([ExactUpsample(), ExactConv2d(8, 64), ExactConv2d(64, 64), ExactConv2d(64, 16, 1)])\n"
        "net.quantize_()\n"
        "x = to_grid(torch.randn(1, 8, 24, 40) * 3)\n"
        "print(hashlib.sha256(net.forward_exact(x).numpy().tobytes()).hexdigest())\n"
    )
    outs = {subprocess.run([sys.executable, str(script), t], capture_output=True, text=True, check=True).stdout for t in "12"}
    assert len(outs) == 1


def test_float_path_clamps_like_the_exact_path():
    # Activations beyond the grid's range are clamped by forward_exact; training must see the same
    # clamp, or the coder's entropy parameters drift from the trained ones (seen: 5x more bits).
    net = make_net()
    with torch.no_grad():
        net.layers[1].weight.mul_(40.0)
    net.quantize_()
    x = to_grid(torch.randn(2, 8, 6, 10) * 30)
    exact = net.forward_exact(x)
    approx = net(x.float())
    assert net.layers[1](ExactUpsample()(x.float())).abs().max() > 1024  # the clamp is exercised
    assert torch.allclose(exact.float(), approx, atol=0.05)
