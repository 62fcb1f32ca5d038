"""Built-in plugins: ordinary hook-implementing modules, registered like any third-party plugin."""

BUILTIN_PLUGINS: tuple[str, ...] = (
    "lit_nn.builtins.activations",
    "lit_nn.builtins.losses",
    "lit_nn.builtins.backbones",
    "lit_nn.builtins.datamodules",
    "lit_nn.builtins.tasks",
)
"""Modules registered before any entry point, under their module name (as pytest does)."""
