"""Speed rows on tiny models: complete, consistent units, paired intervals, OOM handling, errors."""

import numpy as np
import pandas as pd
import pytest
import torch

import vggbench
from vggbench.cli import main
from vggbench.measure import speed
from vggbench.measure.flops import step_flops
from vggbench.measure.setups import SpeedSetup

TINY = vggbench.custom(convs_per_block=[1, 2], widths=[4, 8])
REQUIRED = [
    "arch",
    "variant",
    "ratio",
    "resolution",
    "mode",
    "device",
    "device_name",
    "batch_size",
    "precision",
    "channels_last",
    "compiled",
    "threads",
    "img_per_s",
    "step_ms_median",
    "step_ms_iqr",
    "runs",
    "macs",
    "achieved_gflops",
    "peak_gflops",
    "mfu",
    "peak_mem_bytes",
    "torch_version",
    "error",
]


def _spec(variant="stack"):
    return vggbench.ModelSpec(TINY, variant, resolution=16)


def _setup(**options):
    options = {"device": "cpu", "batch_size": 4, "min_time_s": 0.05, "max_time_s": 0.2, "threads": 1, **options}
    return SpeedSetup(**options)


@pytest.mark.parametrize("mode", ["infer", "train"])
def test_row_is_complete_and_consistent(mode):
    row = speed.measure(_spec(), _setup(mode=mode))
    assert set(REQUIRED) <= set(row)
    assert row["error"] is None
    assert row["img_per_s"] * row["step_ms_median"] / 1000 == pytest.approx(4)
    assert row["runs"] >= 4 and row["step_ms_iqr"] >= 0
    macs = vggbench.model_table([_spec()]).loc[0, "macs"]
    # FLOPs counted by torch: the forward pass is fvcore's 2 x MACs; a training step adds the backward pass.
    counted = step_flops(_spec(), mode)
    assert counted == 2 * macs if mode == "infer" else 2 * macs < counted <= 6 * macs
    assert row["macs"] == macs
    assert row["achieved_gflops"] == pytest.approx(counted * 4 / (row["step_ms_median"] / 1000) / 1e9)
    assert row["mfu"] == pytest.approx(row["achieved_gflops"] / row["peak_gflops"])
    assert row["peak_mem_bytes"] is None and row["rss_peak_increase_bytes"] >= 0  # CPU: resident memory
    assert (row["device"], row["device_name"], row["threads"]) == ("cpu", vggbench.measure.hardware.cpu_model(), 1)


@pytest.mark.parametrize(
    ("precision", "channels_last", "dtype"), [("fp32", False, torch.float32), ("bf16", True, torch.bfloat16)]
)
def test_bf16_and_channels_last_on_cpu_are_what_the_timed_steps_run(monkeypatch, precision, channels_last, dtype):
    # Every conv's output, in every step timed, in the precision and memory format asked for.
    ran, build = set(), speed.build_model

    def build_watched(spec):
        model = build(spec)
        for layer in model.modules():
            if isinstance(layer, torch.nn.Conv2d):
                layer.register_forward_hook(
                    lambda layer, inputs, output: ran.add(
                        (output.dtype, output.is_contiguous(memory_format=torch.channels_last))
                    )
                )
        return model

    monkeypatch.setattr(speed, "build_model", build_watched)
    row = speed.measure(_spec("single"), _setup(precision=precision, channels_last=channels_last))
    assert (row["precision"], row["channels_last"], row["error"]) == (precision, channels_last, None)
    assert ran == {(dtype, channels_last)}


def test_training_step_changes_the_weights():
    # A timed training step must really train: forward, backward and an optimizer step.
    step, model = speed.make_step(_spec(), _setup(mode="train"))
    before = [p.detach().clone() for p in model.parameters()]
    step()
    assert all(not torch.equal(old, new) for old, new in zip(before, model.parameters(), strict=True))


def test_inference_step_leaves_the_model_in_eval_mode():
    step, model = speed.make_step(_spec(), _setup(mode="infer"))
    step()
    assert not model.training


@pytest.mark.slow
def test_paired_table_shape_and_interval():
    specs = [_spec(v) for v in ["stack", "single", "linear-stack"]]
    rows = speed.paired(specs, _setup(min_time_s=0.0), min_pairs=12, rebuilds=3)
    table = speed.paired_table(rows)
    assert list(table.columns[:16]) == [
        "arch",
        "ratio",
        "resolution",
        "mode",
        "device",
        "batch_size",
        "baseline",
        "variant",
        "baseline_img_per_s",
        "variant_img_per_s",
        "time_ratio_median",
        "ci_low",
        "ci_high",
        "ci_half_width",
        "stable",
        "pairs",
    ]
    assert list(table["variant"]) == ["single", "linear-stack"]
    assert (table["baseline"] == "stack").all() and (table["pairs"] >= 12).all()
    assert (table["ci_low"] <= table["time_ratio_median"]).all()
    assert (table["time_ratio_median"] <= table["ci_high"]).all()


def test_ratio_interval_brackets_a_known_ratio():
    ratios = torch.linspace(1.04, 1.06, 40).reshape(4, 10).numpy()
    low, high = speed.ratio_interval(ratios)
    assert 1.04 <= low < 1.05 < high <= 1.06


def test_ratio_interval_widens_when_rebuilds_disagree():
    # Same spread of pairs inside each rebuild, but the rebuilds' levels differ by 4%.
    within = torch.linspace(-0.005, 0.005, 10).numpy()
    agreeing = 1.0 + np.tile(within, (4, 1))
    disagreeing = agreeing + np.array([[-0.02], [0.02], [-0.02], [0.02]])
    narrow = np.subtract(*speed.ratio_interval(agreeing)[::-1])
    wide = np.subtract(*speed.ratio_interval(disagreeing)[::-1])
    assert wide > 3 * narrow


def _out_of_memory_above(limit: int):
    """A make_step that runs out of memory for batches larger than `limit`."""
    real = speed.make_step

    def make_step(spec, setup):
        if setup.batch_size > limit:
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        return real(spec, setup)

    return make_step


def test_out_of_memory_gives_an_error_row_and_retry_halves_the_batch(monkeypatch):
    monkeypatch.setattr(speed, "make_step", _out_of_memory_above(2))
    failed = speed.measure_with_retry(_spec(), _setup(batch_size=8))
    assert failed["error"] == "oom" and failed["img_per_s"] is None
    assert (failed["batch_size"], failed["requested_batch_size"]) == (8, 8)
    retried = speed.measure_with_retry(_spec(), _setup(batch_size=8, oom_retry=True))
    assert retried["error"] is None
    assert (retried["batch_size"], retried["requested_batch_size"]) == (2, 8)


@pytest.mark.slow
def test_cli_writes_rows_and_goes_on_after_oom(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(speed, "make_step", _out_of_memory_above(2))
    out = tmp_path / "speed.csv"
    argv = [
        "speed",
        "--convs",
        "1",
        "2",
        "--widths",
        "4",
        "8",
        "--resolution",
        "16",
        "--ratio",
        "1",
        "--variant",
        "stack",
        "single",
        "--batch-size",
        "4",
        "2",
        "--device",
        "cpu",
        "--min-time",
        "0.02",
        "--threads",
        "1",
        "--out",
        str(out),
    ]
    assert main(argv) == 0
    table = pd.read_csv(out)
    assert len(table) == 4
    assert list(table["error"].fillna("")) == ["oom", "", "oom", ""]
    assert (table.loc[table["error"].isna(), "img_per_s"] > 0).all()
    assert "[4/4]" in capsys.readouterr().err


@pytest.mark.slow
def test_cli_paired(tmp_path):
    out = tmp_path / "pairs.csv"
    argv = [
        "speed",
        "--paired",
        "--pairs",
        "6",
        "--rebuilds",
        "3",
        "--convs",
        "1",
        "--widths",
        "4",
        "--resolution",
        "8",
        "--ratio",
        "1",
        "--variant",
        "single",
        "stack",
        "--batch-size",
        "2",
        "--device",
        "cpu",
        "--min-time",
        "0",
        "--max-time",
        "0",  # the planned pairs only: no sampling towards the interval's target
        "--out",
        str(out),
    ]
    assert main(argv) == 0
    table = pd.read_csv(out)
    assert list(table[["baseline", "variant", "pairs", "rebuilds"]].iloc[0]) == ["single", "stack", 6, 3]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--batch-size", "0"], "batch_size=0 is not allowed"),
        (["--device", "cpu", "--precision", "fp16"], "precision='fp16' is not allowed on device='cpu'"),
        (["--min-time", "-1"], "min_time_s=-1.0 is not allowed"),
        (["--threads", "0"], "threads=0 is not allowed"),
        (["--paired", "--variant", "stack"], "--paired needs at least two --variant values"),
    ],
)
def test_bad_speed_value_is_one_line_and_exit_2(argv, message, capsys):
    assert main(["speed", "--device", "cpu", *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err


def test_unknown_device_is_one_line_and_exit_2(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["speed", "--device", "tpu"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "invalid choice: 'tpu'" in err


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU: cuda is a valid device here")
def test_cuda_without_a_gpu_is_one_line_and_exit_2(capsys):
    assert main(["speed", "--device", "cuda"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "device='cuda' is not available" in err


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU; none on this machine")
@pytest.mark.parametrize("mode", ["infer", "train"])
def test_cuda_path_synchronizes_and_reports_allocator_peak(mode):
    row = speed.measure(_spec(), SpeedSetup(mode=mode, device="cuda", batch_size=4, min_time_s=0.05))
    assert row["error"] is None and row["device_name"] == torch.cuda.get_device_name()
    assert row["peak_mem_bytes"] > 0 and row["rss_peak_increase_bytes"] is None
    assert row["cudnn_benchmark"] is True
    assert row["img_per_s"] * row["step_ms_median"] / 1000 == pytest.approx(4)
