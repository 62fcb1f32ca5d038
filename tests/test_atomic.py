"""Atomic writes: a process stopped or killed at any moment of a write leaves a whole file behind."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time

import torch

from lit_nn.atomic import ABANDONED_SECONDS, write_text
from lit_nn.checkpoints import load_checkpoint

WRITER = """
import sys, torch
from lit_nn.checkpoint_io import GatedCheckpointIO
io, path = GatedCheckpointIO(), sys.argv[1]
weights = [torch.full((500_000,), float(version)) for version in (0, 1)]
for version in range(10**9):
    io.save_checkpoint({"state_dict": {"w": weights[version % 2]}, "version": version % 2}, path)
    if version == 0:
        print("written", flush=True)
"""


def test_text_is_replaced_whole(tmp_path):
    path = tmp_path / "run.json"
    write_text(path, "{}\n")
    write_text(path, '{"a": 1}\n')
    assert path.read_text() == '{"a": 1}\n' and [p.name for p in tmp_path.iterdir()] == ["run.json"]


def whole(path) -> bool:
    checkpoint = load_checkpoint(path)  # raises on a torn file
    return bool(torch.all(checkpoint["state_dict"]["w"] == checkpoint["version"]))


def test_a_checkpoint_frozen_or_killed_at_random_points_of_its_writes_is_whole(tmp_path):
    other_file_system = tmp_path / "tmp"  # where a temporary file would go by default: not beside the checkpoint
    other_file_system.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(other_file_system)],
                             capture_output=True).returncode == 0  # fmt: skip
    path = tmp_path / "checkpoints" / "last.ckpt"
    rng = random.Random(0)
    try:
        for _ in range(3):  # three writer processes, each frozen at 40 random moments, then killed at one
            writer = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True,
                                      env={"TMPDIR": str(other_file_system), "PATH": "/usr/bin:/bin"})  # fmt: skip
            assert writer.stdout.readline().strip() == "written"
            for moment in range(40):
                time.sleep(rng.uniform(0, 0.02))
                writer.send_signal(signal.SIGSTOP)  # what the disk holds at this moment is what a kill would leave
                try:
                    assert whole(path), moment
                finally:
                    writer.send_signal(signal.SIGCONT)
            time.sleep(rng.uniform(0, 0.02))
            writer.send_signal(signal.SIGKILL)
            writer.wait()
            assert whole(path)
    finally:
        if mounted:
            subprocess.run(["umount", str(other_file_system)], check=False)
    leftovers = [p.name for p in path.parent.iterdir() if p.name != "last.ckpt"]
    assert len(leftovers) <= 1  # at most the killed write's own partial file, removed by the next write


def test_a_write_leaves_the_partial_files_of_writers_still_at_work(tmp_path):
    host = socket.gethostname()
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    try:
        working = tmp_path / f".report.png.{host}-{sleeper.pid}.0a1b2c3d.partial"  # another sweep worker's
        killed = tmp_path / f".report.png.{host}-{dead.pid}.0a1b2c3d.partial"
        elsewhere = tmp_path / ".report.png.node-7-123.0a1b2c3d.partial"  # an array task on another node
        gone = tmp_path / ".report.png.node-8-456.0a1b2c3d.partial"
        for partial in (working, killed, elsewhere, gone):
            partial.write_bytes(b"half")
        os.utime(gone, (time.time() - 2 * ABANDONED_SECONDS,) * 2)
        write_text(tmp_path / "report.png", "whole")
        left = sorted(p.name for p in tmp_path.iterdir())
        assert left == sorted(["report.png", working.name, elsewhere.name])
    finally:
        sleeper.kill()


def test_the_next_write_removes_what_a_killed_one_left(tmp_path):
    path = tmp_path / "last.ckpt"
    (tmp_path / ".last.ckpt.dead.partial").write_bytes(b"half")
    write_text(path, "whole")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.ckpt"]
