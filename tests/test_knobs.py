"""Knobs and the study configuration: one declaration gives the checks, the config keys and the axes."""

import math

import pytest

from vggbench.engine.config import StudyConfig, load_config
from vggbench.engine.registry import KINDS
from vggbench.measure.setups import SpeedSetup, TrainConfig

GRID = {"archs": ["vgg11"], "ratios": [64], "resolutions": [32], "device": "cpu", "threads": 1}


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"epochs": 1.5}, "epochs=1.5 is not allowed: it must be an integer >= 1"),
        ({"epochs": True}, "epochs=True is not allowed: it must be an integer >= 1"),
        ({"lr": -0.1}, "lr=-0.1 is not allowed: it must be a finite number > 0"),
        ({"lr": math.inf}, "lr=inf is not allowed: it must be a finite number > 0"),
        ({"optimizer": "lion"}, "optimizer='lion' is not allowed: choose one of adam, sgd"),
        ({"normalize": "yes"}, "normalize='yes' is not allowed: it must be true or false"),
        (
            {"speed_min_time_s": math.inf},
            "speed_min_time_s=inf is not allowed (--min-time): it must be a finite number >= 0",
        ),
        (
            {"speed_modes": ["infer", "backward"]},
            "speed_modes='backward' is not allowed (--mode): choose one of infer, train",
        ),
        ({"speed_modes": []}, "speed_modes=[] is not allowed: give a non-empty list"),
        ({"seeds": [0, -1]}, "seeds entry=-1 is not allowed: it must be an integer >= 0"),
        ({"seeds": []}, "seeds=() is not allowed: give a non-empty list"),
        ({"threads": 0}, "threads=0 is not allowed: it must be an integer >= 1"),
        ({"speed_precision": "fp16"}, "precision='fp16' is not allowed on device='cpu'"),
    ],
)
def test_a_bad_value_is_refused_with_what_is_allowed(values, message):
    with pytest.raises(ValueError) as error:
        StudyConfig({**GRID, **values})
    assert message in str(error.value)


def test_an_axis_gives_one_setup_per_value_and_takes_a_single_value_too():
    config = StudyConfig({**GRID, "speed_modes": ["infer", "train"], "speed_batch_size": [2, 4]})
    setups = config.setups(SpeedSetup)
    assert [(setup.mode, setup.batch_size) for setup in setups] == [
        ("infer", 2),
        ("infer", 4),
        ("train", 2),
        ("train", 4),
    ]
    assert {(setup.device, setup.threads) for setup in setups} == {("cpu", 1)}
    single = StudyConfig({**GRID, "speed_batch_size": 8, "seeds": 3})
    assert [setup.batch_size for setup in single.setups(SpeedSetup)] == [8] and single.speed_batch_size == (8,)
    assert single.seeds == (3,)  # a single value is a list of one


def test_batch_norm_crosses_the_grid():
    config = StudyConfig({**GRID, "variants": ["stack", "single"], "batch_norm": [False, True]})
    assert [(spec.batch_norm, spec.variant) for spec in config.models()] == [
        (False, "stack"),
        (False, "single"),
        (True, "stack"),
        (True, "single"),
    ]


def test_every_key_with_its_default_is_recorded_and_reads_back_the_same():
    config = load_config("quick", device="cpu", threads=1)
    recorded = config.to_dict()
    assert (
        recorded["epochs"] == 2 and recorded["lr"] == TrainConfig.lr and recorded["speed_modes"] == ["infer", "train"]
    )
    assert recorded["kinds"] == list(KINDS)  # no kind named: every registered kind that applies, in order
    assert StudyConfig(recorded).to_dict() == recorded


def test_a_config_of_an_earlier_version_reads_with_its_unset_values_as_defaults():
    config = StudyConfig({**GRID, "threads": None, "device": None, "train_limit": None})
    assert config.threads >= 1 and config.device in ("cpu", "cuda") and config.train_limit is None


def test_kinds_that_do_not_apply_are_left_out_unless_asked_for():
    one_variant = {**GRID, "variants": ["stack"]}
    assert "pairs" not in StudyConfig(one_variant).kinds
    with pytest.raises(ValueError, match="--paired needs at least two --variant values \\(got stack\\)"):
        StudyConfig({**one_variant, "kinds": ["static", "pairs"]})
    three_channels = {**GRID, "in_channels": 3}
    selected = StudyConfig(three_channels).kinds
    assert "static" in selected and not {"train", "erf"} & set(selected)  # Fashion-MNIST has one channel
    with pytest.raises(ValueError, match="do not fit Fashion-MNIST"):
        StudyConfig({**three_channels, "kinds": ["train"]})


def test_every_preset_is_described_in_the_help_of_preset():
    from vggbench.engine.config import PRESET_SUMMARIES, PRESETS

    assert set(PRESET_SUMMARIES) == set(PRESETS)
