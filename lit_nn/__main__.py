"""``python -m lit_nn``: the same as the ``lit-nn`` command."""

from lit_nn.cli import main

if __name__ == "__main__":
    main()
