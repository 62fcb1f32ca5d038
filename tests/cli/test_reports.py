"""What ``lit-nn fit`` says at the end: the loss curves read in one line, from real runs."""

from __future__ import annotations

import re
from types import SimpleNamespace

from lit_nn.callbacks.plots import PredictionPlots
from lit_nn.cli import main
from lit_nn.cli.reports import curves_reading
from tests.callbacks.test_plots import check_png

QUIET = ["--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false"]
BINARY_MLP = ["--model", "BinaryClassificationTask", "--data", "binary", "--model.backbone", "mlp"]


def reading_of(output: str) -> str:
    (line,) = [line for line in output.splitlines() if line.startswith("Loss curves: ")]
    return line


def test_a_run_built_to_over_fit_is_said_to_over_fit(tmp_path, capsys):
    """150 samples with 20% of the labels flipped, two layers of 256 units, no dropout or weight decay."""
    main(["fit", *BINARY_MLP, "--data.num_samples", "150", "--data.label_noise", "0.2",
          "--model.backbone_kwargs", "{hidden_sizes: [256, 256]}", "--model.lr", "0.001", "--model.dropout", "0",
          "--model.weight_decay", "0", "--trainer.max_epochs", "20", "--run.root", str(tmp_path), *QUIET])  # fmt: skip
    out = capsys.readouterr().out
    line = reading_of(out)
    said = re.fullmatch(
        r"Loss curves: best epoch (\d+) \(validation loss [\d.]+\); last epoch 19: validation [\d.]+, training [\d.]+, "
        r"gap \+[\d.]+\. Validation loss rose for (\d+) epochs after epoch \1 \(\+\d+%\) while training loss kept "
        r"falling \(-\d+%\): over-fitting; try dropout, weight decay or fewer epochs\.",
        line,
    )
    assert said, line
    best, rose = int(said[1]), int(said[2])
    assert best + rose == 19
    assert f"best-epoch={best:03d}.ckpt" in out  # the epoch the best checkpoint was saved at
    assert out.index(line) < out.index("Run folder: ")
    (curves,) = tmp_path.glob("binary/*/plots/fit-*/curves.png")
    check_png(curves)


def test_a_run_stopped_too_early_is_told_to_train_longer(tmp_path, capsys):
    main(["fit", *BINARY_MLP, "--data.num_samples", "600", "--data.batch_size", "32",
          "--model.backbone_kwargs", "{hidden_sizes: [16]}", "--model.lr", "0.001", "--trainer.max_epochs", "3",
          "--run.root", str(tmp_path), *QUIET])  # fmt: skip
    line = reading_of(capsys.readouterr().out)
    assert re.fullmatch(
        r"Loss curves: best epoch 2 \(validation loss [\d.]+\); last epoch 2: validation [\d.]+, training [\d.]+, "
        r"gap [+-][\d.]+\. Both losses still falling at the last epoch \(validation -[\d.]+%, training -[\d.]+% "
        r"since epoch 0\): stopped too early; train longer\.",
        line,
    ), line


def test_without_the_plots_history_nothing_is_said():
    """``--plots.enabled false`` takes the callback away, and with it the history the reading needs."""
    assert curves_reading(SimpleNamespace(callbacks=[])) == ""
    assert curves_reading(SimpleNamespace(callbacks=[PredictionPlots()])) == ""
    plots = PredictionPlots()
    plots.history = [{"epoch": 0.0, "train/loss_epoch": 0.7, "val/loss": 0.69}]
    assert curves_reading(SimpleNamespace(callbacks=[plots])).endswith("1 validated epoch: too few to read over- or "
                                                                         "under-fitting (3 needed).")  # fmt: skip
