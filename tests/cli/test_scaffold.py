"""`lit-nn plugins new`: the skeleton registers lazily, so listing plugins imports nothing heavy."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from lit_nn.cli.scaffold import new_plugin

PROBE = """
import json, sys
from lit_nn_demo import plugin
from lit_nn.registry import build_registry

names = {hook: getattr(plugin, "lit_nn_register_" + hook)() for hook in ("activations", "losses", "backbones",
         "datamodules")}
heavy = sorted(m for m in ("torch", "lightning", "sklearn") if m in sys.modules)
registry = build_registry(plugins=[plugin], autoload=False, strict=True)
data = registry.create("datamodules", "demo_circles", num_samples=40)
print(json.dumps({"heavy_after_hooks": heavy, "names": {k: sorted(v) for k, v in names.items()},
                  "data": [list(data.input_shape), data.num_classes]}))
"""


def test_the_skeleton_registers_lazily_and_its_components_work(tmp_path):
    root = new_plugin("demo", tmp_path)
    path = os.pathsep.join(filter(None, [str(root / "src"), os.environ.get("PYTHONPATH")]))
    probe = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                           env={**os.environ, "PYTHONPATH": path}, timeout=300)  # fmt: skip
    assert probe.returncode == 0, probe.stderr[-3000:]
    seen = json.loads(probe.stdout.strip().splitlines()[-1])
    assert seen["heavy_after_hooks"] == []  # the hooks module and its hooks import no torch, Lightning, sklearn
    assert seen["names"]["datamodules"] == ["demo_circles"] and seen["names"]["backbones"] == ["demo_wide_mlp"]
    assert seen["data"] == [[2], 2]  # the lazy target imports and builds when used
    readme = (root / "README.md").read_text()
    assert "](https://github.com/)" not in readme  # no placeholder link
