"""The `vggbench` command line: a thin layer over the Python API."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import pandas as pd

from vggbench.arch import CUSTOM, PRESET_CONVS, VARIANTS, custom, grid
from vggbench.csvio import write_csv
from vggbench.validate import DEVICES

STDOUT = "-"


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad option in one line, without the usage block."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Show defaults, except where there is none to show (None, or an off flag)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        if action.default in (None, False):
            return action.help
        return super()._get_help_string(action)


def _integer(text: str) -> int:
    # Only the type is checked here; ranges are checked once, in vggbench.arch.
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid integer value: {text!r}") from None


def _add_model_options(parser: argparse.ArgumentParser) -> None:
    """Options that choose models; shared by every command that builds them."""
    group = parser.add_argument_group("models (every combination is built)")
    group.add_argument(
        "--arch",
        nargs="+",
        choices=[*PRESET_CONVS, CUSTOM],
        default=None,
        help="VGG configuration(s) of the VGG paper, or 'custom' (see --convs/--widths); "
        "default: vgg11, or custom when --convs is given",
    )
    group.add_argument(
        "--variant",
        nargs="+",
        choices=list(VARIANTS),
        default=list(VARIANTS),
        help="kernel variant(s): stack = n 3x3 convs, ReLU after each; single = one "
        "(2n+1)x(2n+1) conv, one ReLU; linear-stack = n 3x3 convs, one ReLU after the last",
    )
    group.add_argument(
        "--ratio",
        nargs="+",
        type=_integer,
        default=[8],
        help="width divisor(s): every conv width and the FC hidden width (4096) are divided by it",
    )
    group.add_argument(
        "--resolution",
        nargs="+",
        type=_integer,
        default=[224],
        help="input side(s) in pixels; at least 2**blocks (32 for the VGG presets)",
    )
    group.add_argument("--in-channels", type=_integer, default=1, help="input channels (1 for Fashion-MNIST)")
    group.add_argument("--num-classes", type=_integer, default=10, help="output classes")
    group.add_argument("--batch-norm", action="store_true", help="BatchNorm after each conv (as torchvision's *_bn)")
    custom = parser.add_argument_group("custom architecture (--arch custom)")
    custom.add_argument(
        "--convs", nargs="+", type=_integer, metavar="N", help="convs per block, one number per block, e.g. 1 1 2 2 2"
    )
    custom.add_argument(
        "--widths",
        nargs="+",
        type=_integer,
        metavar="C",
        help="output channels per block before --ratio, e.g. 64 128 256 512 512",
    )
    custom.add_argument(
        "--kernel",
        type=_integer,
        default=None,
        help="odd kernel side of the stacked convs (default 3); single uses n*(kernel-1)+1",
    )


def _add_device_options(group) -> None:
    group.add_argument(
        "--device",
        choices=list(DEVICES),
        default=None,
        help="where to run (default: cuda when a GPU is present, else cpu)",
    )
    group.add_argument(
        "--threads",
        type=_integer,
        default=None,
        help="intra-op threads (default: torch's default, the number of cores)",
    )


def _model_specs(args: argparse.Namespace):
    given_custom = args.convs is not None or args.widths is not None or args.kernel is not None
    archs = args.arch or ([CUSTOM] if given_custom else ["vgg11"])
    if CUSTOM in archs and (args.convs is None or args.widths is None):
        raise ValueError("--arch custom needs --convs and --widths (one number per block each)")
    if given_custom and CUSTOM not in archs:
        raise ValueError("--convs, --widths and --kernel describe --arch custom; add 'custom' to --arch")
    archs = [custom(args.convs, args.widths, args.kernel or 3) if arch == CUSTOM else arch for arch in archs]
    return grid(
        archs=archs,
        variants=args.variant,
        ratios=args.ratio,
        resolutions=args.resolution,
        in_channels=args.in_channels,
        num_classes=args.num_classes,
        batch_norm=args.batch_norm,
    )


def _readable(table: pd.DataFrame) -> str:
    """Integers with thousands separators, other numbers with four significant digits, blanks for missing."""

    def integer(value) -> str:
        return "" if pd.isna(value) else f"{value:,}"

    def number(value) -> str:
        return "" if pd.isna(value) else f"{value:.4g}"

    def other(value) -> str:
        return "" if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)

    formatters = {}
    for column in table.columns:
        values = table[column]
        if pd.api.types.is_bool_dtype(values):
            formatters[column] = other
        elif pd.api.types.is_integer_dtype(values):
            formatters[column] = integer
        elif pd.api.types.is_float_dtype(values):
            formatters[column] = number
        else:
            formatters[column] = other
    return table.to_string(index=False, formatters=formatters, na_rep="")


def _emit(table: pd.DataFrame, destination: str | None, shown_columns: list[str], title: str) -> None:
    """Print `table` (its `shown_columns`) and write all of it as CSV to `destination`."""
    print(f"{title}\n{_readable(table[shown_columns])}\n")
    if destination not in (None, STDOUT):
        write_csv(table, destination)
        print(f"wrote {len(table)} rows to {destination}\n")


MODEL_COLUMNS = [
    "arch",
    "variant",
    "ratio",
    "resolution",
    "in_channels",
    "num_classes",
    "batch_norm",
    "params",
    "conv_params",
    "fc_params",
    "macs",
    "flops",
    "rf_px",
]
BLOCK_COLUMNS = [
    "arch",
    "ratio",
    "block",
    "variant",
    "kernels_px",
    "relus",
    "block_in_channels",
    "block_out_channels",
    "params",
    "params_vs_stack",
    "params_vs_stack_if_in_eq_out",
    "macs",
    "macs_vs_stack",
    "conv_rf_px",
    "rf_px",
]
LAYER_COLUMNS = [
    "arch",
    "variant",
    "ratio",
    "module",
    "layer_type",
    "kernel_px",
    "stride_px",
    "padding_px",
    "out_px",
    "params",
    "macs",
    "rf_px",
    "jump_px",
    "start_px",
]


def _static(args: argparse.Namespace) -> None:
    from vggbench.measure.static import block_table, layer_table, model_table  # imports torch and fvcore

    specs = _model_specs(args)
    _emit(model_table(specs), args.out, MODEL_COLUMNS, "Static cost per model (one image; macs as counted by fvcore)")
    if args.blocks is not None:
        _emit(block_table(specs), args.blocks, BLOCK_COLUMNS, "Per-block comparison of the variants")
    if args.layers is not None:
        _emit(layer_table(specs), args.layers, LAYER_COLUMNS, "Per-layer geometry and cost")


SPEED_COLUMNS = [
    "arch",
    "variant",
    "ratio",
    "resolution",
    "mode",
    "device",
    "batch_size",
    "precision",
    "img_per_s",
    "step_ms_median",
    "step_ms_iqr",
    "runs",
    "achieved_gflops",
    "mfu",
    "peak_mem_bytes",
    "rss_peak_increase_bytes",
    "error",
]


def _device_options(args: argparse.Namespace) -> dict:
    """--device and --threads where given; otherwise the library's defaults apply."""
    given = {"device": args.device, "threads": args.threads}
    return {name: value for name, value in given.items() if value is not None}


def _speed_setups(args: argparse.Namespace) -> list:
    from vggbench.measure.speed import SpeedSetup

    options = {
        "precision": args.precision,
        "channels_last": args.channels_last,
        "compiled": args.compile,
        "min_time_s": args.min_time,
        "cudnn_benchmark": args.cudnn_benchmark,
        **_device_options(args),
    }
    return [SpeedSetup(mode=mode, batch_size=batch, **options) for mode in args.mode for batch in args.batch_size]


def _progress(done: int, total: int, text: str) -> None:
    print(f"[{done}/{total}] {text}", file=sys.stderr, flush=True)


def _speed(args: argparse.Namespace) -> None:
    from vggbench.measure import speed

    specs = _model_specs(args)
    setups = _speed_setups(args)  # every option is checked before anything runs
    rows: list[dict] = []
    if args.paired:
        if len(args.variant) < 2:
            raise ValueError(f"--paired needs at least two --variant values (got {' '.join(args.variant)})")
        groups: dict = {}
        for spec in specs:  # one group per model, its variants in the order given
            groups.setdefault(dataclasses.replace(spec, variant=args.variant[0]), []).append(spec)
        jobs = [(group, setup) for group in groups.values() for setup in setups]
        for done, (group, setup) in enumerate(jobs, start=1):
            new = speed.paired(group, setup, min_pairs=args.pairs, rebuilds=args.rebuilds)
            rows += new
            summary = ", ".join(f"{row['variant']} {row.get('time_ratio_median', float('nan')):.3f}" for row in new)
            _progress(
                done,
                len(jobs),
                f"{group[0].arch.name} ratio {group[0].ratio} {setup.mode} "
                f"batch {setup.batch_size}: time vs {group[0].variant}: {summary}",
            )
            _save_progress(speed.paired_table(rows), args.out)
        _emit(speed.paired_table(rows), args.out, speed.PAIRED_COLUMNS, "Paired time ratios (variant / baseline)")
        return
    jobs = [(spec, setup) for spec in specs for setup in setups]
    for done, (spec, setup) in enumerate(jobs, start=1):
        row = speed.measure_with_retry(spec, setup, oom_retry=args.oom_retry)
        rows.append(row)
        result = row["error"] or f"{row['img_per_s']:.1f} img/s"
        _progress(
            done,
            len(jobs),
            f"{spec.arch.name} {spec.variant} ratio {spec.ratio} {setup.mode} "
            f"batch {row['batch_size']} on {setup.device}: {result}",
        )
        _save_progress(pd.DataFrame(rows), args.out)
    _emit(pd.DataFrame(rows), args.out, SPEED_COLUMNS, "Throughput per model (median over runs)")


TRAIN_COLUMNS = [
    "arch",
    "variant",
    "ratio",
    "resolution",
    "seed",
    "epoch",
    "train_loss",
    "train_acc",
    "test_acc",
    "epoch_s",
    "train_img_per_s",
    "data_s",
    "compute_s",
    "device",
]
SUMMARY_COLUMNS = [
    "arch",
    "variant",
    "ratio",
    "resolution",
    "epochs",
    "seeds",
    "test_acc_mean",
    "test_acc_std",
    "test_acc_min",
    "test_acc_max",
]


def _checkpoint_path(base: str, spec, seed: int, several: bool) -> Path:
    """`base` itself for a single run; with several, the model and seed go before the suffix."""
    path = Path(base)
    if not several:
        return path
    return path.with_name(f"{path.stem}-{spec.arch.name}-{spec.variant}-r{spec.ratio}-seed{seed}{path.suffix}")


def _train(args: argparse.Namespace) -> None:
    from vggbench import data
    from vggbench.measure import train

    specs = _model_specs(args)
    if args.in_channels != 1 or args.num_classes != data.NUM_CLASSES:
        raise ValueError(
            f"--in-channels {args.in_channels} --num-classes {args.num_classes} do not fit "
            f"Fashion-MNIST: it has 1 channel and {data.NUM_CLASSES} classes"
        )
    options = {
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "lr": args.lr,
        "optimizer": args.optimizer,
        "momentum": args.momentum,
        "weight_decay": args.weight_decay,
        "train_limit": args.train_limit,
        "normalize": args.normalize,
        **_device_options(args),
    }
    configs = [train.TrainConfig(seed=seed, **options) for seed in (args.seeds or [args.seed])]
    dataset = data.load(args.data_root)
    print(f"Fashion-MNIST from {dataset.source}", file=sys.stderr)
    rows: list[dict] = []
    several = len(specs) * len(configs) > 1
    for spec in specs:
        for config in configs:
            new, model = train.train(spec, config, dataset, report=lambda line: print(line, file=sys.stderr))
            rows += new
            _save_progress(pd.DataFrame(rows), args.out)
            if args.save_checkpoint:
                train.save_checkpoint(_checkpoint_path(args.save_checkpoint, spec, config.seed, several), model, spec)
    _emit(pd.DataFrame(rows), args.out, TRAIN_COLUMNS, "Per epoch (train_loss: mean cross-entropy per image)")
    _emit(train.summarize(rows), args.summary, SUMMARY_COLUMNS, "Final test accuracy over seeds")


def _save_progress(table: pd.DataFrame, destination: str | None) -> None:
    """Rewrite the CSV after each measurement, so an interrupted run keeps what it measured."""
    if destination is not None:
        write_csv(table, destination)


def _executor(args: argparse.Namespace):
    from vggbench.executors import LocalExecutor, RayExecutor

    if args.executor == "ray":
        return RayExecutor(args.ray_address, args.ray_retries)
    if args.ray_address is not None:
        raise ValueError(f"--ray-address {args.ray_address} needs --executor ray")
    return LocalExecutor()


def _run(args: argparse.Namespace) -> None:
    from vggbench import study

    config = study.load_config(args.preset, args.config, **_device_options(args))
    if args.dry_run:
        plan = study.dry_run(config)
        print(_readable(plan))
        total = plan["estimate_s"].sum()
        print(f"{len(plan)} trials, about {total / 60:.0f} min on {config.resolved_device} (a rough estimate)")
        return
    directory = study.run(
        config,
        args.out or f"runs/{args.preset}",
        force=args.force,
        data_root=args.data_root,
        report=lambda line: print(line, file=sys.stderr, flush=True),
        executor=_executor(args),
    )
    summary = pd.read_csv(directory.root / "summary.csv")
    print(f"Summary of {directory.root} (tables: static, blocks, speed, pairs, train, summary; metadata.json)")
    print(_readable(summary) + "\n")
    args.run_dir = str(directory.root)
    _claim(args)
    _report(args)


def _claim(args: argparse.Namespace) -> None:
    from vggbench import claim

    claims, _ = claim.report(args.run_dir)
    shown = [
        "claim",
        "arch",
        "ratio",
        "device",
        "mode",
        "baseline",
        "variant",
        "baseline_value",
        "variant_value",
        "ci_low",
        "ci_high",
        "verdict",
    ]
    print(f"The claim, part by part (written to {args.run_dir}/claim.md and claim.csv)")
    print(_readable(claims[[column for column in shown if column in claims]]))


def _report(args: argparse.Namespace) -> None:
    from vggbench import report

    path = report.write(args.run_dir)
    print(f"report: {path} (figures as PNG and SVG in {path.parent / 'figures'})")


def _publish(args: argparse.Namespace) -> None:
    from vggbench import study

    target = study.publish(args.run_dir, args.results)
    print(f"published {args.run_dir} to {target} and listed it in {args.results}/README.md")


ERF_COLUMNS = [
    "arch",
    "variant",
    "ratio",
    "resolution",
    "trained",
    "images",
    "erf_side_t20",
    "erf_side_t30",
    "erf_side_t50",
    "erf_side_t99",
    "erf_area_ratio_t50",
    "erf_area_ratio_t99",
    "rf_px",
    "erf_to_rf_t99",
]


def _erf(args: argparse.Namespace) -> None:
    import numpy as np

    from vggbench import data
    from vggbench.measure import erf, train
    from vggbench.study import erf_map_name

    if args.images < 1:
        raise ValueError(f"--images {args.images} is not allowed: it must be >= 1")
    checkpoints = [(path, train.load_checkpoint(path)) for path in args.checkpoint or []]
    specs = [] if checkpoints else _model_specs(args)
    test_images = data.load(args.data_root).test_images[: args.images]
    jobs = [(spec, None, None) for spec in specs]
    jobs += [(spec, path, model) for path, (model, spec) in checkpoints]
    rows = []
    for done, (spec, path, model) in enumerate(jobs, start=1):
        images = data.prepare(test_images, spec.resolution)
        if model is None:
            row, contribution = erf.measure_untrained(spec, images, args.init_seeds)
        else:
            row, contribution = erf.measure_models(spec, [model], images, trained=True)
            row["checkpoint"] = str(path)
        rows.append(row)
        state = "trained" if row["trained"] else "untrained"
        if args.save_maps:
            folder = Path(args.save_maps)
            folder.mkdir(parents=True, exist_ok=True)
            np.save(
                folder / erf_map_name(spec.arch.name, spec.variant, spec.ratio, spec.resolution, state), contribution
            )
        _progress(
            done,
            len(jobs),
            f"{spec.arch.name} {spec.variant} ratio {spec.ratio} {state}: "
            f"t=0.99 side {row['erf_side_t99']} px of {row['rf_px']} px theoretical",
        )
        _save_progress(pd.DataFrame(rows), args.out)
    _emit(pd.DataFrame(rows), args.out, ERF_COLUMNS, "Effective receptive field (sides in px)")


def make_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="vggbench",
        description="Test the VGG claim that stacked 3x3 convs beat one large kernel: "
        "build VGG variants and measure them side by side.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)
    static = commands.add_parser(
        "static",
        help="parameters, MACs/FLOPs and theoretical receptive field of each model",
        description="Parameters, MACs (fvcore; flops = 2 x macs) for one image, and theoretical receptive "
        "field of each model. With no options: the seed's model (vgg11, ratio 8, 1 channel, 10 classes, "
        "224 px) in all three variants.",
        formatter_class=_HelpFormatter,
    )
    _add_model_options(static)
    output = static.add_argument_group("output")
    output.add_argument("--out", metavar="FILE.csv", help="write the per-model table as CSV")
    output.add_argument(
        "--blocks",
        nargs="?",
        const=STDOUT,
        metavar="FILE.csv",
        help="also show the per-block comparison of stack, single and linear-stack; with FILE.csv also write it",
    )
    output.add_argument(
        "--layers",
        nargs="?",
        const=STDOUT,
        metavar="FILE.csv",
        help="also show the per-layer table (window, output side, receptive field, jump, "
        "start); with FILE.csv also write it",
    )
    static.set_defaults(handler=_static)

    speed = commands.add_parser(
        "speed",
        help="throughput, step time and memory of each model, inference or training, CPU or CUDA",
        description="Time each model with torch.utils.benchmark (warm-up excluded, CUDA synchronized): "
        "images per second, median and IQR of the step time, achieved GFLOP/s against the device's "
        "measured matmul peak, and peak memory. With --paired, the variants of each model are timed "
        "in alternation and compared to the first one as a time ratio with a bootstrap 95%% interval.",
        formatter_class=_HelpFormatter,
    )
    _add_model_options(speed)
    timing = speed.add_argument_group("timing")
    timing.add_argument(
        "--mode",
        nargs="+",
        choices=["infer", "train"],
        default=["infer"],
        help="infer: eval mode under inference_mode; train: forward, loss, backward, Adam step",
    )
    _add_device_options(timing)
    timing.add_argument("--batch-size", nargs="+", type=_integer, default=[64], help="batch size(s)")
    timing.add_argument(
        "--precision",
        choices=["fp32", "bf16", "fp16"],
        default="fp32",
        help="fp32, or autocast to bf16 or fp16 (fp16 on CUDA only)",
    )
    timing.add_argument("--channels-last", action="store_true", help="channels-last memory format for model and input")
    timing.add_argument("--compile", action="store_true", help="torch.compile the model (compilation is warm-up)")
    timing.add_argument(
        "--min-time",
        type=float,
        default=2.0,
        metavar="SECONDS",
        help="seconds of timed steps per measurement (per model when --paired)",
    )
    timing.add_argument(
        "--cudnn-benchmark",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="let cuDNN pick the fastest algorithms (CUDA only)",
    )
    timing.add_argument(
        "--oom-retry",
        action="store_true",
        help="after CUDA out-of-memory, halve the batch until it fits (the row records the "
        "batch used); without it the row says error=oom and the run goes on",
    )
    timing.add_argument(
        "--paired",
        action="store_true",
        help="time the variants of each model interleaved and compare them to the first --variant",
    )
    timing.add_argument(
        "--pairs",
        type=_integer,
        default=64,
        help="with --paired: at least this many pairs in all (with 16 rebuilds, 64 resolve a 5%% "
        "difference on 2 shared CPU cores)",
    )
    timing.add_argument(
        "--rebuilds",
        type=_integer,
        default=16,
        help="with --paired: build the models afresh this many times and split the pairs "
        "between the builds, so the interval covers instance-to-instance spread",
    )
    timing.add_argument("--out", metavar="FILE.csv", help="write the table as CSV (rewritten after every measurement)")
    speed.set_defaults(handler=_speed)

    training = commands.add_parser(
        "train",
        help="train on Fashion-MNIST and report per-epoch loss, accuracy and speed",
        description="Train each model on Fashion-MNIST (the seed's recipe by default: vgg11 stack, ratio 8, "
        "224 px, Adam, lr 0.001, batch 64, 5 epochs) and report, per seed and epoch, the mean training loss, "
        "training and test accuracy and time; then mean and standard deviation of the final test accuracy "
        "over seeds.",
        formatter_class=_HelpFormatter,
    )
    _add_model_options(training)
    training.set_defaults(variant=["stack"])
    recipe = training.add_argument_group("training")
    recipe.add_argument("--epochs", type=_integer, default=5, help="passes over the training set")
    recipe.add_argument("--batch-size", type=_integer, default=64, help="training batch size")
    recipe.add_argument("--lr", type=float, default=1e-3, help="learning rate")
    recipe.add_argument("--optimizer", choices=["adam", "sgd"], default="adam", help="optimizer")
    recipe.add_argument("--momentum", type=float, default=0.0, help="SGD momentum")
    recipe.add_argument("--weight-decay", type=float, default=0.0, help="L2 weight decay")
    recipe.add_argument(
        "--train-limit",
        type=_integer,
        metavar="N",
        help="train on the first N training images only (default: all 60,000)",
    )
    recipe.add_argument(
        "--normalize",
        action="store_true",
        help="subtract the training pixels' mean and divide by their std (the seed does not)",
    )
    recipe.add_argument("--seed", type=_integer, default=0, help="random seed: weights, shuffling, dropout")
    recipe.add_argument("--seeds", nargs="+", type=_integer, metavar="SEED", help="several seeds (replaces --seed)")
    _add_device_options(recipe)
    recipe.add_argument(
        "--data-root",
        metavar="DIR",
        help="folder with the four Fashion-MNIST IDX files (else VGGBENCH_DATA, the user cache, "
        "Debian's dataset-fashion-mnist, then torchvision's download)",
    )
    files = training.add_argument_group("output")
    files.add_argument("--out", metavar="FILE.csv", help="per-epoch rows as CSV (rewritten after every model and seed)")
    files.add_argument("--summary", metavar="FILE.csv", help="the summary over seeds as CSV")
    files.add_argument(
        "--save-checkpoint",
        metavar="PATH",
        help="save the trained state dict and spec (several runs: model and seed added to the name)",
    )
    training.set_defaults(handler=_train)

    run = commands.add_parser(
        "run",
        help="run the study: static cost, speed, paired speed and training over a grid, resumable",
        description="Run a grid of trials (arch x variant x ratio x resolution x seed) into RUN_DIR: static "
        "cost once per model, speed per model and mode, paired speed per model and mode, training per seed, "
        "the effective receptive field per model untrained and trained. Each finished trial is saved at once; "
        "rerunning with the same RUN_DIR skips finished trials. Ends with claim.md and report.html.",
        formatter_class=_HelpFormatter,
    )
    run.add_argument(
        "--preset",
        choices=["quick", "claim", "paper"],
        default="quick",
        help="quick: vgg11/13/16 at 32 px, 2 seeds, short training (minutes on a CPU); claim: ratios "
        "4, 8, 16, 3 seeds (hours on a CPU); paper: the seed's recipe, stack against single (GPU)",
    )
    run.add_argument("--config", metavar="FILE.toml", help="TOML file whose keys override the preset's")
    run.add_argument("--out", metavar="RUN_DIR", help="the run directory (default: runs/PRESET)")
    run.add_argument("--force", action="store_true", help="reuse a RUN_DIR made with another configuration")
    run.add_argument("--dry-run", action="store_true", help="list the trials and estimate their time; run nothing")
    run.add_argument("--data-root", metavar="DIR", help="folder with the four Fashion-MNIST IDX files")
    _add_device_options(run)
    scaling = run.add_argument_group("scale-out")
    scaling.add_argument(
        "--executor",
        choices=["local", "ray"],
        default="local",
        help="local: every trial in this process; ray: every trial a Ray task (needs "
        "`pip install 'vggbench[ray]'`), speed trials first and one at a time on one node",
    )
    scaling.add_argument(
        "--ray-address",
        metavar="ADDRESS",
        help="the Ray cluster to join (as for ray.init, e.g. auto or HOST:6379); default: start one on this machine",
    )
    scaling.add_argument(
        "--ray-retries",
        type=_integer,
        default=2,
        metavar="N",
        help="retry a trial whose worker process died N times, then record it as failed",
    )
    run.set_defaults(handler=_run)

    verdicts = commands.add_parser(
        "claim",
        help="verdicts on each part of the claim, from a run directory",
        description="Write claim.md and claim.csv into RUN_DIR: for each arch and ratio whether the stack has "
        "fewer parameters and MACs, the same receptive field, higher accuracy than single and than "
        "linear-stack (Welch's t-test), and is faster (paired time ratio): supported, contradicted or "
        "inconclusive.",
        formatter_class=_HelpFormatter,
    )
    verdicts.add_argument("run_dir", metavar="RUN_DIR", help="a directory written by `vggbench run`")
    verdicts.set_defaults(handler=_claim)

    reporting = commands.add_parser(
        "report",
        help="figures and a self-contained report.html from a run directory",
        description="Draw RUN_DIR's figures into RUN_DIR/figures/ as PNG and SVG (accuracy against MACs, "
        "throughput against width ratio, per-block parameter and MAC ratios, effective receptive field maps) "
        "and write RUN_DIR/report.html: the claim's verdicts, the figures embedded, the per-model table and "
        "the run's metadata, in one file that opens offline. `vggbench run` does this at its end.",
        formatter_class=_HelpFormatter,
    )
    reporting.add_argument("run_dir", metavar="RUN_DIR", help="a finished `vggbench run` directory")
    reporting.set_defaults(handler=_report)

    publishing = commands.add_parser(
        "publish",
        help="copy a finished run's tables and claim report into results/ and index it",
        description="Copy the tables, claim.md, report.html with its figures, the ERF maps, metadata.json and "
        "config.json of RUN_DIR into "
        "RESULTS/<run>-<device>-<date>/ and add a row to RESULTS/README.md's index of published runs.",
        formatter_class=_HelpFormatter,
    )
    publishing.add_argument("run_dir", metavar="RUN_DIR", help="a finished `vggbench run` directory")
    publishing.add_argument("--results", default="results", metavar="DIR", help="where published runs go")
    publishing.set_defaults(handler=_publish)

    effective = commands.add_parser(
        "erf",
        help="effective receptive field of each model, untrained or from checkpoints",
        description="The effective receptive field (Luo et al. 2016, measured as RepLKNet does): the clamped "
        "input gradient of the central unit of the last feature map, averaged over Fashion-MNIST test images; "
        "then the side of the smallest centred square holding 20, 30, 50 and 99%% of it, against the "
        "theoretical receptive field.",
        formatter_class=_HelpFormatter,
    )
    _add_model_options(effective)
    measuring = effective.add_argument_group("measurement")
    measuring.add_argument("--images", type=_integer, default=64, help="test images to average over")
    measuring.add_argument(
        "--init-seeds",
        nargs="+",
        type=_integer,
        default=[0],
        metavar="SEED",
        help="untrained models: average over these initialisations",
    )
    measuring.add_argument(
        "--checkpoint",
        nargs="+",
        metavar="PATH",
        help="measure these trained models (from vggbench train --save-checkpoint) instead",
    )
    measuring.add_argument("--data-root", metavar="DIR", help="folder with the four Fashion-MNIST IDX files")
    measuring.add_argument("--save-maps", metavar="DIR", help="save each contribution map as .npy here")
    measuring.add_argument("--out", metavar="FILE.csv", help="write the table as CSV")
    effective.set_defaults(handler=_erf)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = make_parser()
    args = parser.parse_args(argv)
    try:
        args.handler(args)
    except ValueError as error:
        print(f"vggbench {args.command}: error: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"vggbench {args.command}: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"vggbench {args.command}: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
