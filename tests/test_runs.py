"""The run-folder layout: names, run.json, and the files a run is carried on from."""

from __future__ import annotations

import json
import os

from lit_nn import runs


def test_a_new_run_records_itself_and_is_found_newest_first(tmp_path):
    first = runs.create_run_dir(tmp_path, "a", {"task": "t"})
    second = runs.create_run_dir(tmp_path, "b", None)
    assert runs.run_info(first)["trains"] == {"task": "t"} and "wandb_id" in runs.run_info(second)
    info = json.loads((second / runs.RUN_FILE).read_text())
    info["created"] = runs.run_info(first)["created"] - 10  # recorded start, not the folder's time, orders runs
    (second / runs.RUN_FILE).write_text(json.dumps(info))
    assert runs.runs_newest_first(tmp_path) == [first, second]
    (first / runs.RUN_FILE).write_text("not json")
    assert runs.run_info(first) == {}


def test_best_and_last_checkpoints_of_a_run(tmp_path):
    folder = runs.checkpoint_dir(tmp_path)
    folder.mkdir()
    for name in ("best-epoch=001.ckpt", "best-epoch=004.ckpt", "last.ckpt", "other.ckpt"):
        (folder / name).write_bytes(b"")
    assert [p.name for p in runs.run_checkpoints(tmp_path, "best")] == ["best-epoch=001.ckpt", "best-epoch=004.ckpt"]
    assert runs.run_checkpoints(tmp_path, "last") == [runs.last_checkpoint(folder)]


def test_slurm_checkpoints_are_numbered_and_the_newer_file_resumes(tmp_path):
    assert runs.resume_checkpoint(tmp_path) is None
    assert runs.next_hpc_checkpoint(tmp_path).name == "hpc_ckpt_1.ckpt"
    (tmp_path / "hpc_ckpt_2.ckpt").write_bytes(b"")
    (tmp_path / "hpc_ckpt_x.ckpt").write_bytes(b"")  # not one of Lightning's
    assert runs.next_hpc_checkpoint(tmp_path).name == "hpc_ckpt_3.ckpt"
    last = runs.last_checkpoint(runs.checkpoint_dir(tmp_path))
    last.parent.mkdir()
    last.write_bytes(b"")
    os.utime(tmp_path / "hpc_ckpt_2.ckpt", ns=(1, 1))
    assert runs.resume_checkpoint(tmp_path) == last
    os.utime(last, ns=(0, 0))
    assert runs.resume_checkpoint(tmp_path) == tmp_path / "hpc_ckpt_2.ckpt"


def test_names_of_sweeps_trials_configs_and_sessions(tmp_path):
    experiment = runs.experiment_dir(tmp_path, "digits")
    assert runs.sweep_dir(experiment, "s") == tmp_path / "digits" / "sweeps" / "s"
    assert (runs.trial_name(3), runs.trial_name(3, 2)) == ("trial-0003", "trial-0003-2")
    assert runs.config_file(tmp_path, "fit-1", first=True).name == "config.yaml"
    assert runs.config_file(tmp_path, "test-1", first=False).name == "test-1.yaml"
    assert runs.session_folder(runs.PLOTS_FOLDER, "fit-1") == "plots/fit-1"
    assert runs.compare_dir(experiment).name.startswith("compare-")
    assert runs.compare_run_names(["relu", "{hidden_sizes: [8]}"]) == ["relu", "hidden_sizes-8"]
    assert runs.compare_run_names(["a b", "a/b"]) == ["1-a-b", "2-a-b"]
