"""``lit-nn compare``: one config over several values of one setting, as real runs, in one figure."""

from __future__ import annotations

import csv

import pytest

from lit_nn.cli.compare import split_varied
from lit_nn.errors import ConfigError
from tests.helpers.cli import run

PNG = b"\x89PNG\r\n\x1a\n"


def test_the_varied_option_is_the_one_with_several_values():
    key, values, rest = split_varied(["-c", "deep_mlp", "--model.activation", "sigmoid,relu", "--model.lr=0.01"])
    assert (key, values, rest) == ("model.activation", ["sigmoid", "relu"], ["-c", "deep_mlp", "--model.lr=0.01"])
    key, values, _ = split_varied(["--model.lr=0.001,0.01", "--model.backbone_kwargs", "{hidden_sizes: [8, 8]}"])
    assert (key, values) == ("model.lr", ["0.001", "0.01"])
    with pytest.raises(ConfigError, match="exactly one option with several comma-separated values"):
        split_varied(["-c", "digits"])
    with pytest.raises(ConfigError, match=r"given: --model.lr, --model.activation"):
        split_varied(["--model.lr", "1,2", "--model.activation", "relu,tanh"])


def test_compare_trains_each_value_and_draws_them_together(tmp_path):
    result = run(["compare", "-c", "deep_mlp", "--model.activation", "sigmoid,relu,no_such_activation",
                  "--trainer.max_epochs", "2", "--trainer.logger", "false", "--trainer.enable_progress_bar", "false",
                  "--activation_stats.every_n_steps", "10"], cwd=tmp_path)  # fmt: skip
    assert result.returncode == 1, result.stderr[-3000:]  # one value failed: said in the table, the others ran
    assert "Traceback" not in result.stderr
    (folder,) = (tmp_path / "runs" / "digits").glob("compare-*")
    assert (folder / "compare.png").read_bytes()[:8] == PNG
    rows = list(csv.DictReader((folder / "compare.csv").open()))
    assert [r["model.activation"] for r in rows] == ["sigmoid", "relu", "no_such_activation"]
    assert [r["epochs"] for r in rows] == ["2", "2", "0"]
    assert float(rows[1]["val/acc"]) > float(rows[0]["val/acc"])  # the chapter's lesson, on real runs
    assert "unknown" in rows[2]["run (or why it failed)"].lower()
    assert not list((tmp_path / "runs" / "digits").glob("*/run.json"))  # --ckpt_path best of deep_mlp sees none
    for row in rows[:2]:
        run_dir = tmp_path / row["run (or why it failed)"]  # relative to where compare ran (an absolute one stays)
        assert run_dir.parent == folder and run_dir.name == row["model.activation"]
        assert list(run_dir.glob("checkpoints/best-*.ckpt"))
        assert (next(run_dir.glob("plots/fit-*")) / "activation_stats.png").read_bytes()[:8] == PNG
    assert "lit-nn: the gradient reaching hidden1.sigmoid is" in result.stderr
    table = result.stdout
    assert "model.activation" in table and "no_such_activation" in table
    assert "[1/3] --model.activation=sigmoid: val/" in table
    assert "[3/3] --model.activation=no_such_activation: failed" in table
    assert len(table.splitlines()) < 30 and "Run folder:" not in table  # one line a value; each run's output in its log
    assert "Run folder:" in (folder / "logs" / "sigmoid.log").read_text()
    assert f"Figure: {folder.relative_to(tmp_path) / 'compare.png'}" in table


def test_help_and_a_compare_where_every_value_fails(tmp_path, monkeypatch):
    from lit_nn.cli import compare

    shown = run(["compare", "--help"], cwd=tmp_path)
    assert shown.returncode == 0 and shown.stdout.startswith("usage: lit-nn compare")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=r"every value of --model.activation failed; the first: model: Unknown"):
        compare.run(["-c", "deep_mlp", "--model.activation", "nope,nada"])
    assert not (tmp_path / "runs").exists()
