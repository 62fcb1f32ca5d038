"""lit_nn's YAML loader: jsonargparse's values, duplicate keys refused, file and line named."""

from __future__ import annotations

import pytest

from lit_nn.cli.yaml_loader import ConfigYAMLError, duplicate_key, load


def test_loads_what_jsonargparse_loads():
    assert load("a: 1e-3\nb: [1, 2]\n") == {"a": 0.001, "b": [1, 2]}
    assert load("digits") == "digits"


def test_a_key_given_twice_is_refused_at_any_depth():
    with pytest.raises(ConfigYAMLError, match=r"x\.yaml: the key 'lr' appears twice \(lines 3 and 4\)"):
        load("model:\n  init_args:\n    lr: 1\n    lr: 2\n", path="x.yaml")
    import yaml

    assert duplicate_key(yaml.compose("a: [{b: 1, b: 2}]")) == "the key 'b' appears twice (lines 1 and 1)"
    assert duplicate_key(yaml.compose("a: {b: 1}\nc: {b: 2}")) is None  # the same key in two mappings is fine


def test_invalid_yaml_names_the_file_and_line():
    with pytest.raises(ConfigYAMLError, match=r"bad\.yaml is not valid YAML at line 3, column 1"):
        load("trainer:\n  max_epochs: [3\n", path="bad.yaml")


def test_a_config_file_must_be_a_mapping_but_a_value_need_not():
    assert load("- a\n- b\n") == ["a", "b"]
    with pytest.raises(ConfigYAMLError, match=r"list\.yaml must hold a mapping of settings"):
        load("- a\n- b\n", path="list.yaml")


def alias_bomb(levels=10, width=10):
    """ "Billion laughs": each level an anchored list of ``width`` aliases of the one before."""
    lines = ['a0: &a0 ["lol"]']
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * width)}]")
    return "\n".join(lines) + "\n"


def test_an_alias_bomb_is_refused_at_once(tmp_path):
    """10 levels of 10 aliases expand to 10**9 values; each node is now looked at once, not once per alias."""
    import time

    start = time.perf_counter()
    with pytest.raises(ConfigYAMLError, match=r"bomb\.yaml: its aliases \(\*name\) repeat .* more than 100,000 values"):
        load(alias_bomb(), path="bomb.yaml")
    assert time.perf_counter() - start < 2


def test_a_few_aliases_are_fine_and_counted_exactly():
    import yaml

    from lit_nn.cli.yaml_loader import aliased_values

    text = "base: &b {lr: 1, wd: 2}\none: *b\ntwo: *b\n"
    assert aliased_values(yaml.compose(text)) == 2 * 5  # the mapping, its two keys and two values, twice more
    assert load(text) == {"base": {"lr": 1, "wd": 2}, "one": {"lr": 1, "wd": 2}, "two": {"lr": 1, "wd": 2}}
    assert aliased_values(yaml.compose(alias_bomb(levels=4, width=3))) > 0


def test_a_duplicate_key_under_a_repeated_anchor_is_still_found():
    assert "appears twice" in str(pytest.raises(ConfigYAMLError, load, "a: &x {k: 1, k: 2}\nb: [*x, *x]\n").value)


def test_a_config_text_over_the_bound_is_refused_before_it_is_parsed():
    from lit_nn.cli.yaml_loader import MAX_CONFIG_CHARS

    with pytest.raises(ConfigYAMLError, match=r"big\.yaml holds 8,388,609 characters, more than the 8,388,608"):
        load("k: " + "x" * (MAX_CONFIG_CHARS - 2), path="big.yaml")
