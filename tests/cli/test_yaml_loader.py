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
