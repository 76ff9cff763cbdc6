import torch
from torch import nn

from export import fp16


def net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU(), nn.Conv2d(8, 4, 1),
                         nn.Flatten(), nn.LazyLinear(1), nn.Sigmoid()).eval()


def test_schedule_is_increasing_and_ends_at_n():
    s = fp16.schedule(113)
    assert s[0] == 0 and s[-1] == 113 and s == sorted(set(s)) and 48 in s
    assert fp16.schedule(3) == [0, 2, 3]


def test_mixed_half_keeps_a_float32_prefix():
    m = net()
    m(torch.zeros(1, 3, 8, 8))  # materialise the lazy layer
    mixed = fp16.mixed_half(m, 2)
    casts = [mod for mod in mixed.modules() if isinstance(mod, fp16.Cast)]
    assert [c.dtype for c in casts] == [torch.float32, torch.float32, torch.float16, torch.float16]
    assert next(m.parameters()).dtype == torch.float32  # the original is untouched
    out = mixed(torch.randn(2, 3, 8, 8))
    assert out.dtype == torch.float32 and out.shape == (2, 1)


def test_calibrate_meets_the_target():
    m = net()
    x = torch.randn(16, 3, 8, 8)
    m(x)
    _mixed, k, diff = fp16.calibrate(m, x, target=1e-9)
    assert diff <= 1e-9 and k == len(fp16.param_leaves(m))  # only all-float32 is that exact
    _mixed, k, diff = fp16.calibrate(m, x, target=1e-2)
    assert k == 0 and diff <= 1e-2
