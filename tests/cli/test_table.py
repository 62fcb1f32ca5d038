from lit_nn.cli.table import format_table


def test_last_column_wraps_to_the_given_width():
    text = format_table(("NAME", "TEXT"), [("a", "word " * 30)], width=60)
    lines = text.splitlines()
    assert len(lines) > 2
    assert all(len(line) <= 60 for line in lines)
    assert all(line.startswith("      ") for line in lines[2:])


def test_no_wrapping_when_not_a_terminal(capsys):
    text = format_table(("NAME", "TEXT"), [("a", "word " * 30)])
    assert len(text.splitlines()) == 2
