"""The command line: default table, CSV outputs, help, and one-line errors with exit codes."""

import argparse
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from vggbench.cli import main, make_parser

REQUIRED = [
    "arch",
    "variant",
    "ratio",
    "resolution",
    "in_channels",
    "num_classes",
    "batch_norm",
    "params",
    "macs",
    "flops",
    "rf_px",
]


def test_default_prints_the_seeds_model_in_three_variants(capsys):
    assert main(["static"]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = [line.split() for line in lines if line.startswith("vgg11")]
    assert [row[1] for row in rows] == ["stack", "single", "linear-stack"]
    assert {tuple(row[2:6]) for row in rows} == {("8", "224", "1", "10")}
    assert rows[0][7:9] == ["2.018", "M"]  # the book's small net (2,018,346), counted in test_models against vgg()


def test_grid_writes_one_row_per_model(tmp_path, capsys):
    out, blocks, layers = tmp_path / "static.csv", tmp_path / "blocks.csv", tmp_path / "sub" / "layers.csv"
    argv = [
        "static",
        "--arch",
        "vgg11",
        "vgg16",
        "--variant",
        "stack",
        "single",
        "linear-stack",
        "--ratio",
        "16",
        "32",
        "--resolution",
        "64",
        "--in-channels",
        "3",
        "--num-classes",
        "100",
        "--batch-norm",
        "--out",
        str(out),
        "--blocks",
        str(blocks),
        "--layers",
        str(layers),
    ]
    assert main(argv) == 0
    table = pd.read_csv(out)
    assert set(REQUIRED) <= set(table.columns)
    assert len(table) == 2 * 3 * 2
    assert table[["in_channels", "num_classes", "resolution"]].drop_duplicates().values.tolist() == [[3, 100, 64]]
    assert table["batch_norm"].all()
    assert (table["flops"] == 2 * table["macs"]).all()
    assert len(pd.read_csv(blocks)) == 2 * 2 * 5 * 3
    assert set(pd.read_csv(layers)["arch"]) == {"vgg11", "vgg16"}
    assert not list(tmp_path.glob(".*.tmp"))  # no temporary files left behind
    assert f"wrote 12 rows to {out}" in capsys.readouterr().out


def test_custom_arch_on_the_command_line(tmp_path):
    out = tmp_path / "custom.csv"
    assert (
        main(
            [
                "static",
                "--convs",
                "2",
                "3",
                "--widths",
                "8",
                "16",
                "--kernel",
                "5",
                "--resolution",
                "16",
                "--ratio",
                "1",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    table = pd.read_csv(out)
    assert set(table["arch"]) == {"custom"}
    assert set(table["convs_per_block"]) == {"2-3"}
    assert set(table["rf_px"]) == {1 + 8 + 1 + 12 * 2 + 2}  # 5x5 convs: +4 each, jump 2 after the pool


def test_blocks_and_layers_print_when_no_file_is_given(capsys):
    assert main(["static", "--variant", "stack", "--blocks", "--layers"]) == 0
    out = capsys.readouterr().out
    assert "Per-block comparison" in out and "Per-layer geometry" in out
    assert "vgg_block_5.4" in out  # the last pool


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["static", "--ratio", "0"], "ratio=0 is not allowed"),
        (["static", "--ratio", "65"], "largest allowed ratio is 64"),
        (["static", "--resolution", "31"], "at least 32 pixels"),
        (["static", "--in-channels", "0"], "in_channels=0"),
        (["static", "--num-classes", "0"], "num_classes=0"),
        (["static", "--arch", "custom", "--convs", "2", "--widths", "8", "--kernel", "2"], "kernel=2"),
        (["static", "--arch", "custom", "--convs", "2"], "needs --convs and --widths"),
        (["static", "--arch", "vgg11", "--convs", "2", "--widths", "8"], "add 'custom' to --arch"),
    ],
)
def test_bad_value_is_one_line_and_exit_2(argv, message, capsys):
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and message in captured.err
    assert captured.out == ""


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["static", "--arch", "vgg12"], "invalid choice: 'vgg12'"),
        (["static", "--variant", "double"], "invalid choice: 'double'"),
        (["static", "--ratio", "x"], "invalid integer value: 'x'"),
        (["static", "--frobnicate"], "unrecognized arguments: --frobnicate"),
        (["flop"], "invalid choice: 'flop'"),
    ],
)
def test_bad_option_is_one_line_and_exit_2(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err


def test_unwritable_output_is_one_line_and_nonzero(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(SystemExit) as exited:  # refused before any work: the folder it names is a file
        main(["static", "--variant", "stack", "--out", str(blocker / "x.csv")])
    assert exited.value.code == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_help_explains_every_option():
    # Every command and every option has its own help text (argparse would list one without it bare, and a
    # command without it not at all); that `--help` answers, in a fresh process, for every command, is
    # test_startup's.
    parser = make_parser()
    (commands,) = (action for action in parser._actions if isinstance(action, argparse._SubParsersAction))
    assert {choice.dest for choice in commands._choices_actions if choice.help} == set(commands.choices)
    for name, command in {"vggbench": parser, **commands.choices}.items():
        bare = [action.option_strings for action in command._actions if action.option_strings and not action.help]
        assert bare == [] and argparse.SUPPRESS not in [action.help for action in command._actions], name
    static = {option for action in commands.choices["static"]._actions for option in action.option_strings}
    assert static >= {
        "--arch",
        "--variant",
        "--ratio",
        "--resolution",
        "--in-channels",
        "--num-classes",
        "--batch-norm",
        "--convs",
        "--widths",
        "--kernel",
        "--out",
        "--blocks",
        "--layers",
    }


def _commands() -> dict[str, argparse.ArgumentParser]:
    parser = make_parser()
    (commands,) = (action for action in parser._actions if isinstance(action, argparse._SubParsersAction))
    return {"vggbench": parser, **commands.choices}


def _help(command: str, option: str) -> str:
    (action,) = (action for action in _commands()[command]._actions if option in action.option_strings)
    return action.help


def test_every_option_shows_its_default_in_one_style():
    # Every option that takes a value, or may be turned off (--x/--no-x), says in its help what holds without it,
    # as "(default: ...)"; a plain flag (and --help, --version) is off unless given.
    for name, command in _commands().items():
        for action in command._actions:
            flag = action.nargs == 0 and not isinstance(action, argparse.BooleanOptionalAction)
            if not action.option_strings or flag:
                assert action.default in (False, None, argparse.SUPPRESS), (name, action.option_strings)
                continue
            assert "(default: " in action.help, (name, action.option_strings)
            if action.default not in (None, argparse.SUPPRESS):  # argparse holds it: shown as it is
                assert f"(default: {action.default})" in action.help, (name, action.option_strings)


@pytest.mark.parametrize(
    ("command", "option", "default"),
    [
        ("train", "--variant", "stack single linear-stack"),  # the comparison, as every other command's
        ("static", "--variant", "stack single linear-stack"),
        ("train", "--momentum", "0.0"),  # a zero is a default, not an absent one
        ("train", "--weight-decay", "0.0"),
        ("train", "--seeds", "0"),
        ("density", "--min-time", "0.0"),
        ("static", "--batch-norm", "False"),
        ("run", "--preset", "quick"),
        ("compare", "--threshold", "0.05"),
        ("static", "--out", "printed, not written"),
        ("erf", "--save-maps", "not saved"),
    ],
)
def test_a_default_is_shown_as_it_applies(command, option, default):
    assert f"(default: {default})" in _help(command, option)


def test_train_compares_the_stack_with_its_rivals_unless_told_otherwise(monkeypatch):
    from vggbench.engine import outputs

    planned = {}

    def measure(config, *args):
        planned[config.kinds[0]] = config.grid.variants
        return pd.DataFrame()

    monkeypatch.setattr(outputs, "measure", measure)
    assert main(["train", "--device", "cpu"]) == 0 and main(["static"]) == 0
    assert planned["train"] == planned["static"] == ("stack", "single", "linear-stack")


def test_every_command_says_what_it_writes():
    commands = _commands()
    descriptions = {name: command.description for name, command in commands.items()}
    assert "claim.csv and claim.md are overwritten" in descriptions["claim"]
    assert "report.html and the figures in figures/ (PNG and SVG) are overwritten" in descriptions["report"]
    for file in (
        "config.json",
        "metadata.json",
        "trials/",
        "claim.md",
        "report.html",
        "overwritten at the end of each sitting",
    ):
        assert file in descriptions["run"], file
    assert "RESULTS/README.md, which is rewritten" in descriptions["publish"]
    for name in ("compare", "power", "design"):
        assert "writes nothing but the file --out names (overwritten)" in descriptions[name], name
        assert "overwriting FILE.csv (default: printed, not written)" in _help(name, "--out"), name
    for name in ("static", "speed", "train", "erf", "density"):
        assert "the files its output options name (each overwritten)" in descriptions[name], name


def test_run_help_points_to_the_configuration_keys(capsys):
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    out = " ".join(capsys.readouterr().out.split())  # argparse wraps the text
    assert "see the Config keys page of the documentation (reference/config-keys)" in out
    site = (Path(__file__).resolve().parents[1] / "mkdocs.yml").read_text()
    assert "Config keys: reference/config-keys.md" in site  # the page the help names is the site's


def test_power_offers_only_the_accuracy_margin():
    options = {option for action in _commands()["power"]._actions for option in action.option_strings}
    assert "--equivalence-margin" in options and "--erf-margin" not in options  # power sizes accuracy contrasts
    assert "--erf-margin" in {option for action in _commands()["claim"]._actions for option in action.option_strings}


@pytest.mark.slow
def test_error_in_a_real_process_has_no_traceback():
    result = subprocess.run(
        [sys.executable, "-m", "vggbench", "static", "--ratio", "0"], capture_output=True, text=True
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip() == "vggbench static: error: ratio=0 is not allowed: it must be an integer >= 1"
