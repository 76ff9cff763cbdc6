import math

import pytest
import torch

from train.losses import jrc_loss

N, S = 4, 8
MEAN_STD = ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
Y = torch.tensor([0.0, 0.0, 1.0, 1.0])  # two reals, two fakes


def outputs(logit=0.0, recon=None, mask_logit=None):
    out = {"logit": torch.full((N,), float(logit), requires_grad=True)}
    if recon is not None:
        out["reconstruction"] = recon
    if mask_logit is not None:
        out["mask_logit"] = mask_logit
    return out


def recon_with_errors(errors):
    """Reconstruction of an all-zero normalised input (= 0.5 grey) off by ``errors[i]`` per sample."""
    return torch.stack([torch.full((3, S, S), 0.5 + e) for e in errors])


X = torch.zeros(N, 3, S, S)  # normalised 0 -> RGB 0.5


def test_bce_by_hand():
    a = 1.5
    _total, parts = jrc_loss(outputs(a), X, Y, MEAN_STD, cfg={"lambda_rec": 0, "lambda_mask": 0})
    expected = (2 * math.log1p(math.exp(a)) + 2 * math.log1p(math.exp(-a))) / 4
    assert parts["bce"] == pytest.approx(expected, rel=1e-6)
    assert parts["loss"] == pytest.approx(expected, rel=1e-6)
    assert parts["rec"] == 0 and parts["mask"] == 0


@pytest.mark.parametrize(("kind", "expected"), [("mse", 0.04), ("l1", 0.2)])
def test_reconstruction_by_hand_and_weighting(kind, expected):
    out = outputs(0.0, recon_with_errors([0.2] * N))
    total, parts = jrc_loss(out, X, Y, MEAN_STD, cfg={"lambda_rec": 2.5, "rec_loss": kind})
    assert parts["rec"] == pytest.approx(expected, rel=1e-5)
    assert parts["loss"] == pytest.approx(math.log(2) + 2.5 * expected, rel=1e-5)
    assert total.item() == pytest.approx(parts["loss"])


def test_reconstruction_target_is_the_denormalised_input():
    class Stub:
        def denormalize(self, x):
            return x * 0.25 + 0.5

    x = torch.full((N, 3, S, S), 0.8)  # -> 0.7 through the stub, 0.9 through MEAN_STD
    out = outputs(0.0, torch.full((N, 3, S, S), 0.6))
    assert jrc_loss(out, x, Y, Stub())[1]["rec"] == pytest.approx(0.01, rel=1e-5)
    assert jrc_loss(out, x, Y, MEAN_STD)[1]["rec"] == pytest.approx(0.09, rel=1e-5)


def test_reconstruction_on_reals_only():
    out = outputs(0.0, recon_with_errors([0.1, 0.1, 0.3, 0.3]))  # reals 0.01, fakes 0.09
    assert jrc_loss(out, X, Y, MEAN_STD)[1]["rec"] == pytest.approx(0.05, rel=1e-5)
    assert jrc_loss(out, X, Y, MEAN_STD, cfg={"rec_on": "real"})[1]["rec"] == pytest.approx(0.01, rel=1e-5)
    all_fake = torch.ones(N)
    _total, parts = jrc_loss(out, X, all_fake, MEAN_STD, cfg={"rec_on": "real"})
    assert parts["rec"] == 0


def test_mask_loss_by_hand_and_invalid_samples_excluded():
    logits = torch.stack([torch.full((S, S), v) for v in (0.0, 2.0, 10.0, -3.0)]).requires_grad_()
    target = torch.stack([torch.full((S, S), v) for v in (0.0, 1.0, 0.0, 1.0)])
    valid = torch.tensor([True, True, False, False])
    out = outputs(0.0, mask_logit=logits)
    cfg = {"lambda_rec": 0, "lambda_mask": 0.5}
    total, parts = jrc_loss(out, X, Y, MEAN_STD, target, cfg, mask_valid=valid)
    expected = (math.log(2) + math.log1p(math.exp(-2.0))) / 2
    assert parts["mask"] == pytest.approx(expected, rel=1e-5)
    assert parts["loss"] == pytest.approx(math.log(2) + 0.5 * expected, rel=1e-5)
    total.backward()
    assert logits.grad[2:].abs().sum() == 0 and logits.grad[:2].abs().sum() > 0
    # every sample counts when no flag is given
    _t, all_parts = jrc_loss(outputs(0.0, mask_logit=logits.detach()), X, Y, MEAN_STD, target, cfg)
    expected_all = (math.log(2) + math.log1p(math.exp(-2.0)) + math.log1p(math.exp(10.0))
                    + math.log1p(math.exp(3.0))) / 4
    assert all_parts["mask"] == pytest.approx(expected_all, rel=1e-5)
    # no valid sample: no mask term
    none = torch.zeros(N, dtype=torch.bool)
    assert jrc_loss(out, X, Y, MEAN_STD, target, cfg, mask_valid=none)[1]["mask"] == 0


def test_zero_lambda_rec_logs_but_does_not_train_the_decoder():
    recon = recon_with_errors([0.2] * N).requires_grad_()
    total, parts = jrc_loss(outputs(0.0, recon), X, Y, MEAN_STD, cfg={"lambda_rec": 0})
    assert parts["rec"] == pytest.approx(0.04, rel=1e-5)
    assert parts["loss"] == pytest.approx(math.log(2), rel=1e-6)
    total.backward()
    assert recon.grad is None


def test_distillation_by_hand_and_weighting():
    """``distill`` = BCE of the logit against the teacher's probability; weighted by lambda_distill,
    and no gradient reaches the teacher's logits."""
    a, t, lam = 0.5, torch.tensor([-2.0, 0.0, 1.0, 3.0], requires_grad=True), 0.7
    cfg = {"lambda_rec": 0, "lambda_mask": 0, "lambda_distill": lam}
    total, parts = jrc_loss(outputs(a), X, Y, MEAN_STD, cfg=cfg, teacher_logit=t)
    p = torch.sigmoid(t).tolist()
    s = 1 / (1 + math.exp(-a))
    expected = sum(-(q * math.log(s) + (1 - q) * math.log(1 - s)) for q in p) / N
    assert parts["distill"] == pytest.approx(expected, rel=1e-6)
    assert parts["loss"] == pytest.approx(parts["bce"] + lam * expected, rel=1e-6)
    total.backward()
    assert t.grad is None
    _, off = jrc_loss(outputs(a), X, Y, MEAN_STD, cfg={"lambda_rec": 0, "lambda_mask": 0}, teacher_logit=t)
    assert off["distill"] == 0 and off["loss"] == pytest.approx(off["bce"])


def test_config_errors_are_clear():
    with pytest.raises(ValueError, match="rec_on"):
        jrc_loss(outputs(0.0, recon_with_errors([0] * N)), X, Y, MEAN_STD, cfg={"rec_on": "fake"})
    with pytest.raises(ValueError, match="rec_loss"):
        jrc_loss(outputs(0.0, recon_with_errors([0] * N)), X, Y, MEAN_STD, cfg={"rec_loss": "ssim"})
    with pytest.raises(ValueError, match="mask head"):
        jrc_loss(outputs(0.0, recon_with_errors([0] * N)), X, Y, MEAN_STD, torch.zeros(N, S, S))
    with pytest.raises(ValueError, match="reconstruction"):
        jrc_loss(outputs(0.0), X, Y, MEAN_STD)
    with pytest.raises(ValueError, match="teacher"):
        jrc_loss(outputs(0.0), X, Y, MEAN_STD, cfg={"lambda_rec": 0, "lambda_distill": 1.0})


def test_consistency_by_hand():
    from train.losses import consistency_loss

    logit = torch.tensor([1.0, -2.0, 0.5, 3.0, -2.0, 0.0])  # originals, then their twins
    assert float(consistency_loss(logit)) == pytest.approx(((1 - 3) ** 2 + 0 + 0.5 ** 2) / 3)
