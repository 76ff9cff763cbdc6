import numpy as np
import pytest
import torch

from jrc.encoders import EfficientNetLite0, Xception, create_encoder
from jrc.model import ModelConfig, TwoBranchCAE


@pytest.mark.parametrize("name,size,channels,grid", [("efficientnet_lite0", 224, 1280, 7),
                                                     ("xception", 299, 2048, 10)])
def test_encoder_contract_and_shapes(name, size, channels, grid):
    enc = create_encoder(name)
    assert (enc.input_size, enc.out_channels) == (size, channels)
    assert len(enc.mean) == len(enc.std) == 3
    feats = enc.forward_features(torch.randn(1, 3, size, size))
    assert feats.shape == (1, channels, grid, grid)


@pytest.mark.parametrize("encoder", ["efficientnet_lite0", "xception"])
def test_gradients_reach_every_branch(encoder):
    cfg = ModelConfig.for_encoder(encoder, mask_head=True)
    model = TwoBranchCAE(cfg)
    x = torch.randn(2, 3, cfg.input_size, cfg.input_size)
    out = model(x)
    assert out["logit"].shape == (2,)
    assert out["reconstruction"].shape == (2, 3, cfg.input_size, cfg.input_size)
    assert out["mask_logit"].shape == (2, cfg.input_size, cfg.input_size)
    loss = out["logit"].sum() + out["reconstruction"].mean() + out["mask_logit"].mean()
    loss.backward()
    for part in (model.encoder, model.classifier, model.decoder):
        grads = [p.grad for p in part.parameters() if p.grad is not None]
        assert grads and any(float(g.abs().sum()) > 0 for g in grads), type(part).__name__


def test_lite0_imagenet_mapping_classifies_cat():
    import cv2
    from skimage import data

    enc = EfficientNetLite0()
    fc = enc.load_imagenet()
    enc.eval()
    img = cv2.resize(data.chelsea(), (224, 224), interpolation=cv2.INTER_AREA)
    x = (torch.from_numpy(img).permute(2, 0, 1)[None].float() / 255 - 0.5) / 0.5
    with torch.no_grad():
        top = int(fc(enc(x).mean((2, 3))).argmax())
    assert 281 <= top <= 285, f"chelsea classified as ImageNet class {top}"


def test_xception_requires_a_checkpoint_path():
    with pytest.raises(ValueError, match="not bundled"):
        Xception().load_imagenet(None)


def test_xception_loads_cadene_style_checkpoint(tmp_path):
    src = Xception()
    state = {k: v.clone() for k, v in src.state_dict().items()}
    for k in list(state):  # the original port stores pointwise weights as 2-D
        if "pointwise" in k:
            state[k] = state[k][:, :, 0, 0]
    state["fc.weight"], state["fc.bias"] = torch.zeros(1000, 2048), torch.zeros(1000)
    torch.save(state, tmp_path / "xception.pth")
    dst = Xception()
    dst.load_imagenet(tmp_path / "xception.pth")
    a = src.state_dict()["block5.rep.1.pointwise.weight"]
    assert np.allclose(a.numpy(), dst.state_dict()["block5.rep.1.pointwise.weight"].numpy())


def test_unknown_encoder_is_rejected():
    with pytest.raises(ValueError, match="unknown encoder"):
        create_encoder("resnet9000")
