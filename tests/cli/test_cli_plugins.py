"""`lit-nn plugins`: in process through main(), and as a user types it, in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from lit_nn.cli import main
from lit_nn.errors import DuplicateNameError
from lit_nn.signatures import text as signature_text
from tests.conftest import plugin_pythonpath


def run_cli(argv, *plugins, **env):
    environ = {k: v for k, v in os.environ.items() if not k.startswith("LIT_NN_")}
    environ.update(PYTHONPATH=plugin_pythonpath(*plugins), **env)
    return subprocess.run(argv, capture_output=True, text=True, env=environ, timeout=120)


def test_lists_builtins_with_versions(capsys):
    main(["plugins"])
    out = capsys.readouterr().out
    assert out.startswith("lit_nn plugins: ")
    header, *rows = out.split("\n\n")[1].splitlines()
    assert header.split() == ["PLUGIN", "DISTRIBUTION", "VERSION", "REGISTERS"]
    assert any(r.split()[:3] == ["lit_nn.builtins.losses", "lit_nn", "0.1.0"] for r in rows)
    assert "losses: bce_with_logits, cross_entropy, focal" in " ".join(out.split())


def test_shows_third_party_and_failed_plugins(capsys, use_plugins):
    use_plugins("good", "broken")
    main(["plugins"])
    out, err = capsys.readouterr()
    assert err.startswith("lit-nn: warning: Error loading lit_nn plugin 'broken'")
    assert "2 loaded" not in out and "1 failed" in out
    good_row = next(line for line in out.splitlines() if line.startswith("good "))
    assert good_row.split()[:3] == ["good", "litnn-fixture-good", "1.2.3"]
    failed = "Failed:\n  plugin 'broken' (entry point 'broken = litnn_fixture_broken' in litnn-fixture-broken 0.0.1)"
    assert f"{failed}: ModuleNotFoundError" in out


def test_kind_lists_names_with_providers_and_arguments(capsys, use_plugins):
    use_plugins("good")
    main(["plugins", "--kind", "losses"])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["NAME", "PLUGIN", "DISTRIBUTION", "VERSION", "ARGUMENTS"]
    rows = {line.split()[0]: line for line in lines[1:] if not line.startswith(" ")}
    assert rows["huber"].split()[1:] == ["lit_nn.builtins.losses", "lit_nn", "0.1.0", "delta=1.0,", "reduction='mean'"]
    assert rows["fixture_pinball"].split()[1:4] == ["good", "litnn-fixture-good", "1.2.3"]
    assert list(rows) == sorted(rows)


def test_unknown_kind_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as info:
        main(["plugins", "--kind", "optimizers"])
    assert info.value.code == 2
    assert "invalid choice: 'optimizers'" in capsys.readouterr().err


def test_signature_text():
    def factory(a, b=1, *args, c="x", **kw):
        raise AssertionError

    assert signature_text(factory) == "a, b=1, c='x', **kw"
    assert signature_text(lambda: None) == "-"


def test_console_script_lists_an_entry_point_plugin(lit_nn_exe):
    result = run_cli([*lit_nn_exe, "plugins"], "good")
    assert result.returncode == 0, result.stderr
    assert "litnn-fixture-good" in result.stdout and "fixture_swish" in result.stdout


def test_python_dash_m_is_the_same_command():
    result = run_cli([sys.executable, "-m", "lit_nn", "plugins", "--kind", "activations"])
    assert result.returncode == 0, result.stderr
    assert "leaky_relu" in result.stdout and "negative_slope=0.01" in result.stdout


def test_broken_plugin_warns_on_one_line(lit_nn_exe):
    result = run_cli([*lit_nn_exe, "plugins"], "broken")
    assert result.returncode == 0
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("lit-nn: warning: Error loading lit_nn plugin 'broken'")


def test_strict_failure_is_one_line_and_non_zero(capsys, use_plugins, monkeypatch):
    use_plugins("broken")
    monkeypatch.setenv("LIT_NN_STRICT_PLUGINS", "1")
    with pytest.raises(SystemExit) as info:
        main(["plugins"])
    out, err = capsys.readouterr()
    assert info.value.code == 2 and out == ""
    (line,) = err.strip().splitlines()
    assert line.startswith("lit-nn: error: Error loading lit_nn plugin 'broken'")
    assert "LIT_NN_DISABLE_PLUGINS=broken" in line


def test_duplicate_is_one_message_and_debug_lets_the_exception_through(capsys, use_plugins, monkeypatch):
    use_plugins("good", "twin")
    with pytest.raises(SystemExit) as info:
        main(["plugins"])
    err = capsys.readouterr().err
    assert info.value.code == 2
    assert (
        err.startswith("lit-nn: error: The activation 'fixture_swish' is registered twice") and "Traceback" not in err
    )
    monkeypatch.setenv("LIT_NN_DEBUG", "1")
    with pytest.raises(DuplicateNameError):
        main(["plugins"])


def test_disabling_a_builtin_is_refused(capsys, monkeypatch):
    monkeypatch.setenv("LIT_NN_DISABLE_PLUGINS", "lit_nn")
    with pytest.raises(SystemExit) as info:
        main(["plugins"])
    assert info.value.code == 2 and "built-in plugins cannot be disabled" in capsys.readouterr().err


def test_plot_activations_draws_builtins_and_plugins(tmp_path, capsys, use_plugins):
    use_plugins("good")
    out = tmp_path / "activations.png"
    main(["plugins", "--plot", "activations", str(out)])
    printed = capsys.readouterr().out
    assert printed.startswith(f"Wrote {out}: ") and "fixture_swish" in printed and "leaky_relu" in printed
    from PIL import Image

    with Image.open(out) as image:
        assert image.format == "PNG" and image.width > 800


def test_plot_of_another_kind_is_refused(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        main(["plugins", "--plot", "losses", str(tmp_path / "x.png")])
    assert info.value.code == 2 and "--plot draws activations" in capsys.readouterr().err
