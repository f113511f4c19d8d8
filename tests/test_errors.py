"""A bad input is the user's (its message, exit 2); anything else is a bug (its traceback, exit 70)."""

import pytest

from vggbench import cli
from vggbench.engine.registry import KINDS
from vggbench.util.validate import InputError

STATIC = ["static", "--arch", "vgg11", "--ratio", "8"]


def test_a_bad_value_is_a_one_line_error_with_status_2(capsys):
    assert cli.main([*STATIC, "--resolution", "0"]) == cli.BAD_INPUT == 2
    err = capsys.readouterr().err
    assert "vggbench static: error: " in err and "Traceback" not in err


@pytest.mark.parametrize("error", [ValueError("too many values to unpack (expected 2)"), KeyError("kernel")])
def test_a_bug_inside_a_trial_shows_its_traceback_with_status_70(monkeypatch, capsys, error):
    # A Python error raised while measuring is no bad input: it must not pass for one, nor for a failed trial.
    def broken(trial, inputs, load_data, report):
        raise error

    monkeypatch.setattr(KINDS["static"], "run", broken)
    assert cli.main(STATIC) == cli.BUG == 70
    err = capsys.readouterr().err
    assert "Traceback" in err and str(error.args[0]) in err
    assert "vggbench static: internal error (a bug in vggbench" in err and "vggbench static: error:" not in err


def test_an_input_error_inside_a_trial_stays_the_users(monkeypatch, capsys):
    def refused(trial, inputs, load_data, report):
        raise InputError("checkpoint.pt is not a vggbench checkpoint")

    monkeypatch.setattr(KINDS["static"], "run", refused)
    assert cli.main(STATIC) == 2
    err = capsys.readouterr().err
    assert "checkpoint.pt is not a vggbench checkpoint" in err and "Traceback" not in err
