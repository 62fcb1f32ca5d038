"""The shipped configs, installed as the package data ``lit_nn.configs`` (``lit-nn configs`` lists them)."""
