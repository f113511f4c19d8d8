"""Where trials run: in this process, or as tasks on a Ray cluster.

An executor only submits work and hands results back; the study engine decides the
order (dependencies, speed trials alone) and turns failures into rows. Its methods:

    start(machine, data_root, report) -> dict   what it is, for metadata.json
    submit(trial, inputs, alone) -> handle      any object; `alone`: a timing trial, nothing else in flight
    wait(handles) -> handle                     one of them (the very object) whose result is ready
    result(handle) -> Outcome                   raises TrialLost when the work was lost (a worker died)
    stop()

A new executor is one class here with those methods, its options (a knobs.Setup or
None) and one line in EXECUTORS. Ray is optional (`pip install 'vggbench[ray]'`) and
imported only by RayExecutor.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from vggbench.engine.contract import Outcome, Report, Trial
from vggbench.engine.registry import run_trial
from vggbench.measure import data
from vggbench.measure.hardware import Machine
from vggbench.util.knobs import NOT_A_KEY, Setup, knob
from vggbench.util.validate import InputError

RAY_EXTRA = "pip install 'vggbench[ray]'"
SPEED_POLICY = (
    "speed and pairs trials ran first, one at a time, on the speed node, with no other trial of the run in flight; "
    "the other trials were then spread over the cluster"
)


class TrialLost(Exception):
    """The executor lost a trial's work (its worker died on every try); the message says how."""


@dataclass
class _Call:
    """A trial submitted to the local executor, run when its result is asked for."""

    order: int
    trial: Trial
    inputs: dict[str, bytes]


class LocalExecutor:
    """Every trial in this process, one at a time, in the order submitted."""

    options = None
    help = "every trial in this process"

    def start(self, machine: Machine | None = None, data_root: str | None = None, report: Report | None = None) -> dict:
        self._load_data, self._report, self._counter = data.loader(data_root), report, itertools.count()
        return {"name": "local"}

    def submit(self, trial: Trial, inputs: dict[str, bytes], alone: bool) -> _Call:
        return _Call(next(self._counter), trial, inputs)

    def wait(self, handles: list[_Call]) -> _Call:
        return min(handles, key=lambda call: call.order)

    def result(self, handle: _Call) -> Outcome:
        return run_trial(handle.trial, handle.inputs, self._load_data, self._report)

    def stop(self) -> None:
        pass


_WORKER_DATASETS: dict[str | None, Callable] = {}


def run_on_worker(trial: Trial, inputs: dict[str, bytes], data_root: str | None) -> Outcome:
    """A trial as a Ray task runs it; a worker process loads the data set once and reuses it."""
    if data_root not in _WORKER_DATASETS:
        _WORKER_DATASETS[data_root] = data.loader(data_root)
    return run_trial(trial, inputs, _WORKER_DATASETS[data_root])


def import_ray():
    try:
        import ray
    except ImportError:
        raise InputError(f"--executor ray needs Ray, which is not installed: {RAY_EXTRA}") from None
    return ray


@dataclass(frozen=True)
class RayOptions(Setup):
    GROUP = "scale-out"

    address: str | None = knob(
        None,
        "the Ray cluster to join (as for ray.init, e.g. auto or HOST:6379) (default: start one on this machine)",
        key=NOT_A_KEY,
        flags=("--ray-address",),
        metavar="ADDRESS",
    )
    retries: int = knob(
        2,
        "retry a trial whose worker process died N times, then record it as failed",
        key=NOT_A_KEY,
        flags=("--ray-retries",),
        minimum=0,
        metavar="N",
    )


class RayExecutor:
    """Each trial a Ray task: one GPU (and one CPU) for a CUDA trial, `threads` CPUs for a CPU trial.

    Trials submitted `alone` run on one node (the driver's, when it is a cluster node that
    can run them), so all speed rows of a run come from the same machine. A task whose
    worker process dies is retried `retries` times, then lost. Without `address`, Ray
    starts a cluster on this machine (or reuses one this process already joined); with
    one, the vggbench package is shipped to the workers, which need the same Python
    packages and the data set (or a way to download it).
    """

    options = RayOptions
    help = f"every trial a Ray task (needs `{RAY_EXTRA}`), speed trials first and one at a time on one node"

    def __init__(self, address: str | None = None, retries: int = 2, work: Callable = run_on_worker) -> None:
        RayOptions(address, retries)  # checks them
        self.address, self.retries, self.work = address, retries, work
        self._ray = import_ray()  # here, so that a missing extra stops the run before it starts
        self._joined_here = False

    def start(self, machine: Machine, data_root: str | None = None, report: Report | None = None) -> dict:
        ray = self._ray
        if not ray.is_initialized():
            options = {"include_dashboard": False, "log_to_driver": False, "logging_level": "ERROR"}
            if self.address is not None:
                options["runtime_env"] = {"py_modules": [str(Path(__file__).parents[1])]}
            ray.init(address=self.address, **options)
            self._joined_here = True
        cuda = machine.device == "cuda"
        self._data_root = data_root
        self._placement = {"num_gpus": 1, "num_cpus": 1} if cuda else {"num_gpus": 0, "num_cpus": machine.threads}
        self._remote = ray.remote(max_retries=self.retries, retry_exceptions=False)(self.work)
        self._speed_node = self._find_speed_node(machine)
        resources = ray.cluster_resources()
        return {
            "name": "ray",
            "ray_version": ray.__version__,
            "address": self.address or "a cluster on this machine",
            "nodes": len([node for node in ray.nodes() if node["Alive"]]),
            "cluster_cpus": resources.get("CPU", 0),
            "cluster_gpus": resources.get("GPU", 0),
            "max_retries": self.retries,
            "speed_policy": SPEED_POLICY,
        }

    def _find_speed_node(self, machine: Machine) -> str:
        """The node for every trial that runs alone: the driver's, when it is a cluster node that can run it."""
        ray = self._ray
        resource, needed = ("GPU", 1) if machine.device == "cuda" else ("CPU", machine.threads)
        able = [
            node["NodeID"] for node in ray.nodes() if node["Alive"] and node["Resources"].get(resource, 0) >= needed
        ]
        if not able:
            hint = "" if resource == "GPU" else ": give --threads at most the CPUs of a node"
            raise InputError(
                f"no node of the Ray cluster has {needed} {resource}(s) for a {machine.device} trial{hint}"
            )
        driver = ray.get_runtime_context().get_node_id()
        return driver if driver in able else able[0]

    def submit(self, trial: Trial, inputs: dict[str, bytes], alone: bool):
        options = dict(self._placement)
        if alone:
            from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

            options["scheduling_strategy"] = NodeAffinitySchedulingStrategy(self._speed_node, soft=False)
        return self._remote.options(**options).remote(trial, inputs, self._data_root)

    def wait(self, handles: list):
        (ready,), _ = self._ray.wait(handles, num_returns=1)
        return ready

    def result(self, handle) -> Outcome:
        ray = self._ray
        try:
            return ray.get(handle)
        except ray.exceptions.RayTaskError:
            # The trial's code raised: run_trial gives bad inputs and torch's failures back as outcomes, so what
            # arrives here is a bug, and it stops the run with its traceback instead of becoming a failed trial.
            raise
        except ray.exceptions.RayError as error:  # its worker died on every try
            retried = f" after {self.retries} retries" if isinstance(error, ray.exceptions.WorkerCrashedError) else ""
            summary = str(error).strip().splitlines()[0] if str(error).strip() else ""
            raise TrialLost(f"{type(error).__name__}{retried}: {summary}") from None

    def stop(self) -> None:
        if self._joined_here:
            self._ray.shutdown()
            self._joined_here = False


EXECUTORS = {"local": LocalExecutor, "ray": RayExecutor}
