"""What a factory's signature says, for listings: a subclass's **kwargs followed into its base."""

from __future__ import annotations

from lit_nn import signatures


class Base:
    def __init__(self, data, size: int = 4, batch_size: int = 64, **kwargs) -> None:
        pass


class Root(Base):
    def __init__(self, data, size: int = 4, batch_size: int = 64, seed: int = 0) -> None:
        pass


class Fixed(Base):
    def __init__(self, rows: int = 10, **kwargs) -> None:
        super().__init__(rows, 2, **kwargs)  # data and size are this class's to give


class Named(Base):
    def __init__(self, **kwargs) -> None:
        super().__init__([], size=3, **kwargs)


def test_a_base_s_keywords_are_listed_unless_the_class_sets_them():
    assert signatures.text(Fixed) == "rows=10, batch_size=64, **kwargs"
    assert signatures.text(Named) == "batch_size=64, **kwargs"
    assert signatures.text(Base) == "data, size=4, batch_size=64, **kwargs"  # its own **kwargs: nothing to follow


def test_the_chain_ends_at_a_base_without_kwargs():
    class Leaf(Root):
        def __init__(self, extra: bool = False, **kwargs) -> None:
            super().__init__(**kwargs)

    assert signatures.text(Leaf) == "extra=False, size=4, batch_size=64, seed=0"


def test_builtin_datamodules_list_their_real_options():
    from lit_nn.data.bundled import BreastCancer
    from lit_nn.data.synthetic import SyntheticBinary

    assert "**kwargs" not in signatures.text(BreastCancer) and "batch_size=64" in signatures.text(BreastCancer)
    assert "num_classes" not in signatures.text(SyntheticBinary)  # binary sets it to 2 itself
