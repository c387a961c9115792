"""examples/mnist_cnn.py: the model against torch's, a short end-to-end run, and resuming from a checkpoint."""
import re
import sys
from pathlib import Path

import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import mnist_cnn  # noqa: E402  (the script users run)
from cnn_accuracy_vs_torch import torch_twin  # noqa: E402
from test_mnist_e2e import offline, write_tiny  # noqa: E402,F401  (tiny IDX files; `offline` is a fixture)


def twins():
    """The example's model and the same CNN in torch holding a copy of its weights (the benchmark's twin)."""
    minigrad.manual_seed(0)
    model = mnist_cnn.Net()
    return model, torch_twin(model)


def test_model_matches_torch_layer_for_layer_and_trains_the_same_without_dropout(rng):
    model, reference = twins()
    assert [(n, tuple(p.shape)) for n, p in model.named_parameters()] == \
           [(n, tuple(p.shape)) for n, p in reference.named_parameters()]
    assert sum(p.numel() for p in model.parameters()) == 1_199_882
    for net in (model, reference):  # dropout masks cannot match across libraries: switch it off for this check
        net.dropout1.p = net.dropout2.p = 0.0
    optimizer = minigrad.optim.Adadelta(model.parameters(), lr=1.0)
    torch_optimizer = torch.optim.Adadelta(reference.parameters(), lr=1.0)
    schedulers = (minigrad.optim.lr_scheduler.StepLR(optimizer, 1, gamma=0.7),
                  torch.optim.lr_scheduler.StepLR(torch_optimizer, 1, gamma=0.7))
    for _ in range(2):  # two steps, each with its own learning rate
        x = rng.standard_normal((6, 1, 28, 28)).astype("float32")
        y = rng.integers(0, 10, 6)
        losses = []
        for net, opt, lib in ((model, optimizer, minigrad), (reference, torch_optimizer, torch)):
            opt.zero_grad()
            loss = lib.nn.functional.nll_loss(net(lib.tensor(x)), lib.tensor(y))
            loss.backward()
            opt.step()
            losses.append(loss.item())
        assert losses[0] == pytest.approx(losses[1], rel=1e-5)
        for scheduler in schedulers:
            scheduler.step()
    for name, p in reference.named_parameters():
        np.testing.assert_allclose(model.state_dict()[name].numpy(), p.detach().numpy(), atol=1e-5, err_msg=name)
    model.eval()
    reference.eval()
    x = rng.standard_normal((3, 1, 28, 28)).astype("float32")
    with minigrad.no_grad(), torch.no_grad():
        np.testing.assert_allclose(model(minigrad.tensor(x)).numpy(), reference(torch.tensor(x)).numpy(), atol=1e-4)


def weights(path):
    return {k: v.numpy() for k, v in minigrad.load(path)["model"].items()}


def test_example_trains_saves_and_resumes_bit_identically(tmp_path, capsys, offline):  # noqa: F811
    write_tiny(tmp_path / "MNIST" / "raw", n_train=40, n_test=16)
    common = ["--data-dir", str(tmp_path), "--limit", "32", "--batch-size", "16", "--test-batch-size", "16"]
    straight, first, resumed = tmp_path / "straight.npz", tmp_path / "first.npz", tmp_path / "resumed.npz"
    assert mnist_cnn.main(common + ["--epochs", "2", "--save", str(straight)]) == 0
    out = capsys.readouterr().out
    assert len(re.findall(r"Test set: Average loss: \d+\.\d{4}, Accuracy: \d+/16 \(\d+\.\d{2}%\)", out)) == 2, out
    assert "mnist: 32 training / 16 test samples on cpu" in out and "Done: 2 epoch(s)" in out

    assert mnist_cnn.main(common + ["--epochs", "1", "--save", str(first)]) == 0
    assert mnist_cnn.main(common + ["--epochs", "2", "--resume", str(first), "--save", str(resumed)]) == 0
    out = capsys.readouterr().out
    assert "Resumed from" in out and out.count("Test set:") == 2  # one per run
    checkpoint = minigrad.load(resumed)
    assert checkpoint["epoch"] == 2 and checkpoint["scheduler"]["last_epoch"] == 2
    assert checkpoint["optimizer"]["param_groups"][0]["lr"] == pytest.approx(1.0 * 0.7 ** 2)
    # shuffling, dropout masks, Adadelta's state and the schedule all resume exactly where they stopped
    a, b = weights(straight), weights(resumed)
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def test_resume_refuses_a_checkpoint_of_the_mlp_example(tmp_path, capsys, offline):  # noqa: F811
    write_tiny(tmp_path / "MNIST" / "raw", n_train=16, n_test=8)
    mlp_checkpoint = tmp_path / "mlp.npz"
    minigrad.save({"model": {}, "optimizer": {}, "epoch": 1}, mlp_checkpoint)
    assert mnist_cnn.main(["--data-dir", str(tmp_path), "--resume", str(mlp_checkpoint), "--save", ""]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: cannot resume from {mlp_checkpoint}") and "Traceback" not in err
