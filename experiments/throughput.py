"""One-off: training fwd+bwd images/s on this CPU for the shipped model (issue 27, deliverable 6)."""
import sys
import time

import torch

from train.loop import DEFAULTS, make_model


def bench(freeze: int, bf16: bool, batch: int = 32, steps: int = 4, decode: bool = True) -> float:
    cfg = {**DEFAULTS, "mask_head": True, "freeze_blocks": freeze}
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
