"""One-off: training fwd+bwd images/s on this CPU for the shipped model (issue 27, deliverable 6).

Measured 2026-12-04, 2-core AMD EPYC (avx512_bf16), batch 32, 224 px, 2 threads, random input:
freeze 3 fp32 15.4, freeze 3 bf16 25.7, freeze 5 fp32 26.3, freeze 5 bf16 48.2 img/s; without
the decoder (freeze 3 fp32) 46.7 img/s. End to end in the v7 run (SBI + benign re-saves in the
loop, validation excluded): ~34 img/s alone on the machine.
"""
import sys
import time

import torch

from train.config import TrainConfig
from train.loop import make_model


def bench(freeze: int, bf16: bool, batch: int = 32, steps: int = 4, decode: bool = True) -> float:
    cfg = TrainConfig(mask_head=True, freeze_blocks=freeze)
    m = make_model(cfg).to(memory_format=torch.channels_last)
    m.train()
    for mod in m.frozen_modules:
        mod.eval()
    opt = torch.optim.AdamW([p for p in m.parameters() if p.requires_grad], lr=1e-4)
    x = torch.randn(batch, 3, 224, 224).contiguous(memory_format=torch.channels_last)
    ctx = torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else torch.autocast("cpu", enabled=False)
    t = 0.0
    for i in range(steps + 1):
        t0 = time.perf_counter()
        with ctx:
            out = m(x, decode=decode)
        loss = out["logit"].float().mean() + (out["reconstruction"].float().mean() if decode else 0)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if i:
            t += time.perf_counter() - t0
    return batch * steps / t


if __name__ == "__main__":
    torch.set_num_threads(2)
    for freeze, bf16 in [(3, False), (3, True), (5, False), (5, True)]:
        print(f"freeze={freeze} bf16={bf16}: {bench(freeze, bf16):.1f} img/s", flush=True)
    print("no decoder, freeze 3:", f"{bench(3, False, decode=False):.1f}")
    sys.exit(0)
