"""Where a study's trials run: in this process, or as tasks on a Ray cluster.

Either way the driver (the process running `vggbench run`) writes every result into
the run directory as the trial finishes, so a run on Ray resumes like a local one.
Ray is optional (`pip install 'vggbench[ray]'`) and imported only by RayExecutor.run.

Speed on Ray: speed and paired-speed trials run first, one at a time, on one node
(the driver's when it is a cluster node), while no other trial of the run is in
flight anywhere; every other trial is then spread over the cluster. A speed trial
thus never shares its device, nor the node's CPUs or memory bandwidth, with another
trial, and all speed rows of a run come from the same machine.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

from vggbench.study import Outcome, RunDir, StudyConfig, Trial, failure, run_trial

Record = Callable[[Trial, Outcome], None]
EXCLUSIVE_KINDS = ("speed", "pairs")
RAY_EXTRA = "pip install 'vggbench[ray]'"
SPEED_POLICY = (
    "speed and pairs trials ran first, one at a time, on the speed node, with no other trial of the run in flight; "
    "the other trials were then spread over the cluster"
)


def dataset_loader(data_root: str | None) -> Callable:
    """A loader that reads Fashion-MNIST on its first call and keeps it for the next ones."""
    loaded: list = []

    def load():
        from vggbench import data

        if not loaded:
            loaded.append(data.load(data_root))
        return loaded[0]

    return load


class LocalExecutor:
    """Every trial in this process, in plan order (which puts each trial after those it needs)."""

    def start(self) -> dict:
        return {"name": "local"}

    def run(self, todo: list[Trial], config: StudyConfig, directory: RunDir, data_root: str | None, record: Record):
        dataset = dataset_loader(data_root)
        for trial in todo:
            record(trial, run_trial(trial, config, directory.inputs(trial, config), dataset))

    def stop(self) -> None:
        pass


_WORKER_DATASETS: dict[str | None, Callable] = {}


def run_on_worker(trial: Trial, config: StudyConfig, inputs: dict[str, bytes], data_root: str | None) -> Outcome:
    """A trial as a Ray task runs it; a worker process loads the data set once and reuses it."""
    if data_root not in _WORKER_DATASETS:
        _WORKER_DATASETS[data_root] = dataset_loader(data_root)
    return run_trial(trial, config, inputs, _WORKER_DATASETS[data_root])


def import_ray():
    try:
        import ray
    except ImportError:
        raise ValueError(f"--executor ray needs Ray, which is not installed: {RAY_EXTRA}") from None
    return ray


class RayExecutor:
    """Each trial a Ray task: one GPU for a CUDA trial, `threads` CPUs for a CPU trial.

    A task whose worker process dies is retried `retries` times, then recorded as failed.
    Without `address`, Ray starts a cluster on this machine (or reuses one this process
    already joined); with one, the vggbench package is shipped to the workers, which need
    the same Python packages and the data set (or a way to download it).
    """

    def __init__(self, address: str | None = None, retries: int = 2, work: Callable = run_on_worker) -> None:
        if retries < 0:
            raise ValueError(f"--ray-retries {retries} is not allowed: it must be >= 0")
        self.address = address
        self.retries = retries
        self.work = work
        self._ray = import_ray()  # here, so that a missing extra stops the run before it starts
        self._joined_here = False

    def start(self) -> dict:
        ray = self._ray
        if not ray.is_initialized():
            options = {"include_dashboard": False, "log_to_driver": False, "logging_level": "ERROR"}
            if self.address is not None:
                options["runtime_env"] = {"py_modules": [str(Path(__file__).parent)]}
            ray.init(address=self.address, **options)
            self._joined_here = True
        nodes = [node for node in ray.nodes() if node["Alive"]]
        resources = ray.cluster_resources()
        return {
            "name": "ray",
            "ray_version": ray.__version__,
            "address": self.address or "a cluster on this machine",
            "nodes": len(nodes),
            "cluster_cpus": resources.get("CPU", 0),
            "cluster_gpus": resources.get("GPU", 0),
            "max_retries": self.retries,
            "speed_policy": SPEED_POLICY,
        }

    def stop(self) -> None:
        if self._joined_here:
            self._ray.shutdown()
            self._joined_here = False

    def run(self, todo: list[Trial], config: StudyConfig, directory: RunDir, data_root: str | None, record: Record):
        import torch
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        ray = self._ray
        # Workers get the thread count this process would use, so CPU results match a local run.
        config = dataclasses.replace(config, threads=config.threads or torch.get_num_threads())
        cuda = config.resolved_device == "cuda"
        speed_node = self._speed_node(config, cuda)
        remote = ray.remote(max_retries=self.retries, retry_exceptions=False)(self.work)
        placement = {"num_gpus": 1, "num_cpus": 1} if cuda else {"num_gpus": 0, "num_cpus": config.threads}

        def submit(trial: Trial, **options):
            inputs = directory.inputs(trial, config)
            return remote.options(**placement, **options).remote(trial, config, inputs, data_root)

        pinned = NodeAffinitySchedulingStrategy(speed_node, soft=False)
        for trial in [trial for trial in todo if trial.kind in EXCLUSIVE_KINDS]:
            record(trial, self._outcome(trial, submit(trial, scheduling_strategy=pinned)))

        waiting = [trial for trial in todo if trial.kind not in EXCLUSIVE_KINDS]
        pending = {}
        while waiting or pending:
            ready = [trial for trial in waiting if all(directory.done(need) for need in trial.needs(config))]
            for trial in ready:
                waiting.remove(trial)
                pending[submit(trial)] = trial
            if not pending:  # cannot happen: a trial's needs come before it in the plan
                raise RuntimeError(f"trials wait on trials outside the plan: {[trial.key for trial in waiting]}")
            (finished,), _ = ray.wait(list(pending), num_returns=1)
            trial = pending.pop(finished)
            record(trial, self._outcome(trial, finished))

    def _speed_node(self, config: StudyConfig, cuda: bool) -> str:
        """The node for every speed trial: the driver's, when it is a cluster node that can run them."""
        ray = self._ray
        needed = ("GPU", 1) if cuda else ("CPU", config.threads)
        able = [
            node["NodeID"] for node in ray.nodes() if node["Alive"] and node["Resources"].get(needed[0], 0) >= needed[1]
        ]
        if not able:
            device = config.resolved_device
            raise ValueError(
                f"no node of the Ray cluster has {needed[1]} {needed[0]}(s) for a {device} trial"
                + ("" if cuda else ": give --threads at most the CPUs of a node")
            )
        driver = ray.get_runtime_context().get_node_id()
        return driver if driver in able else able[0]

    def _outcome(self, trial: Trial, reference) -> Outcome:
        ray = self._ray
        try:
            return ray.get(reference)
        except ray.exceptions.RayError as error:  # its worker died on every try, or a bug raised
            retried = f" after {self.retries} retries" if isinstance(error, ray.exceptions.WorkerCrashedError) else ""
            summary = str(error).strip().splitlines()[0] if str(error).strip() else ""
            return failure(trial, f"{type(error).__name__}{retried}: {summary}")
