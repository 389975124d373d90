"""The count on a real Dask cluster: a LocalCluster of 2 worker processes x 1 thread, no mocks."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import types

import pytest
from journal_watch import interrupt_once_journaled

from mapfold import count_folds
from mapfold.oeis import VALUES

distributed = pytest.importorskip("distributed")

# One test process starts the module's cluster (``make test`` runs two: pytest-xdist).
pytestmark = pytest.mark.xdist_group("dask_cluster")


@pytest.fixture(scope="module")
def client():
    with (
        distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
        distributed.Client(cluster) as dask_client,
    ):
        yield dask_client


@pytest.fixture
def many_units(monkeypatch):
    """Cut even a small count into 16 units per thread and a tail of smaller ones, as a long count is."""
    import mapfold.run.cluster as cluster

    monkeypatch.setattr(cluster, "MIN_UNIT_NODES", 0.0)
    monkeypatch.setattr(cluster, "MAX_UNIT_NODES", 0.0)


def test_units_follow_the_work():
    import numpy as np

    from mapfold.run.cluster import MAX_UNIT_NODES, MIN_UNIT_NODES, UNITS_PER_THREAD, _deal_units

    threads = 4
    small = _deal_units(np.full(1000, MIN_UNIT_NODES / 1000), threads)  # one unit's worth in all
    assert len(small) == threads  # still one per thread
    rng = np.random.default_rng(7)
    big_weights = rng.pareto(1.5, 5000) * MAX_UNIT_NODES  # a few huge tasks, many small ones
    big = _deal_units(big_weights, threads)
    assert len(big) >= UNITS_PER_THREAD * threads
    for units, tasks in ((small, 1000), (big, 5000)):
        assert sorted(np.concatenate(units).tolist()) == list(range(tasks))  # each task in one unit
    # Largest tasks first; no unit past its cap but by its first task; the tail shrinks to the floor.
    assert big[0][0] == int(np.argmax(big_weights))
    sizes = [float(big_weights[unit].sum()) for unit in big]
    cap = max(MAX_UNIT_NODES, big_weights.sum() / (UNITS_PER_THREAD * threads))
    for unit, size in zip(big, sizes, strict=True):
        assert size <= cap + big_weights[unit[-1]] or len(unit) == 1
    assert max(sizes[-threads:]) < min(sizes[: UNITS_PER_THREAD * threads // 2])
    assert min(sizes[:-1]) >= MIN_UNIT_NODES


@pytest.mark.parametrize(
    "shape, sequence, index",
    [((2, 7), "A001415", 7), ((1, 15), "A000136", 15), ((3, 4), "A001416", 4), ((2, 2, 2, 2), "A001417", 4)],
)
def test_cluster_totals_equal_the_oracle_and_the_local_count(client, shape, sequence, index):
    on_cluster = count_folds(shape, client=client)
    local = count_folds(shape, threads=2)
    assert on_cluster.walk == local.walk == "orbit"  # the default walk, on the cluster too
    assert on_cluster.folds_total == local.folds_total == VALUES[sequence][index]
    assert on_cluster.symmetric_folds == local.symmetric_folds == count_folds(shape, walk="lunnon").symmetric_folds
    assert on_cluster.tasks == local.tasks
    assert on_cluster.threads == 2


def test_the_cluster_counts_a_map_past_64_leaves(client):
    """2^7 (128 leaves): the multi-word walk's tasks, uint8 rows of 128 leaves, in Dask units."""
    result = count_folds((2,) * 7, client=client)
    assert result.leaves == 128 and result.walk == "orbit"
    assert result.folds_total == VALUES["A001417"][7]
    # The wide mirror walk is checked against the brute force in test_wide.py; here the cluster's
    # units must give what the local walk gives.
    assert result.symmetric_folds == count_folds((2,) * 7, threads=2, folds=False).symmetric_folds


def test_lunnons_walk_is_the_local_reference_walk_only(client):
    with pytest.raises(ValueError, match="local reference walk"):
        count_folds((2, 7), client=client, walk="lunnon")
    with pytest.raises(ValueError, match="local reference walk"):
        count_folds((2, 7), client=client, gate=False)


def test_strip_symmetric_total_on_the_cluster(client):
    result = count_folds((1, 16), client=client)
    assert (result.folds_total, result.symmetric_folds) == (VALUES["A000136"][16], VALUES["A007822"][8])


def test_the_symmetric_total_alone_on_the_cluster(client, tmp_path):
    journal = tmp_path / "1x24.journal"
    result = count_folds((1, 24), client=client, folds=False, checkpoint=journal)
    assert result.folds_total is None
    assert result.symmetric_folds == VALUES["A007822"][12]
    resumed = count_folds((1, 24), threads=2, folds=False, checkpoint=journal)  # locally, all of it journaled
    assert (resumed.tasks_resumed, resumed.symmetric_folds) == (result.tasks, result.symmetric_folds)


def test_a_big_cluster_plans_smaller_tasks(client, tmp_path, monkeypatch):
    import mapfold.plan.tasks as tasks_module
    from mapfold.plan.tasks import CLUSTER_TASKS_PER_THREAD, MAX_TASKS, MIN_TASKS, cluster_min_tasks, plan_mirror_tasks

    assert cluster_min_tasks(2) == MIN_TASKS  # this test cluster: the local count's list
    assert cluster_min_tasks(1024) == 1024 * CLUSTER_TASKS_PER_THREAD > MIN_TASKS
    assert cluster_min_tasks(10**6) == MAX_TASKS
    # Make the 2 threads of the test cluster ask for as many tasks as 1,250 threads would.
    monkeypatch.setattr(tasks_module, "CLUSTER_TASKS_PER_THREAD", 20_000)
    journal = tmp_path / "2x10.journal"
    on_cluster = count_folds((2, 10), client=client, checkpoint=journal)
    assert json.loads(journal.read_text().splitlines()[0])["orbit_min_tasks"] == 40_000
    deeper = tasks_module.plan_orbit_tasks((2, 10), 40_000)
    assert on_cluster.tasks == len(deeper) + len(plan_mirror_tasks((2, 10))) > count_folds((2, 10)).tasks
    assert on_cluster.folds_total == VALUES["A001415"][10]
    assert on_cluster.symmetric_folds == count_folds((2, 10), walk="lunnon").symmetric_folds
    monkeypatch.undo()
    resumed = count_folds((2, 10), threads=2, checkpoint=journal)  # locally, with the journal's plan
    assert (resumed.tasks, resumed.tasks_resumed) == (on_cluster.tasks, on_cluster.tasks)
    assert resumed.folds_total == on_cluster.folds_total


def test_a_worker_killed_mid_run_changes_nothing(client, tmp_path, many_units):
    pids = list(client.run(os.getpid).values())
    journal = tmp_path / "2x14.journal"
    killed_at: list[float] = []
    lines_when_killed: list[int] = []

    def kill_a_worker_once_work_is_done() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            lines = journal.read_text().count("\n") if journal.exists() else 0
            if lines > 50:  # a unit is in: the run is going
                os.kill(pids[0], signal.SIGKILL)
                killed_at.append(time.monotonic())
                lines_when_killed.append(lines)
                return
            time.sleep(0.005)

    killer = threading.Thread(target=kill_a_worker_once_work_is_done, daemon=True)
    killer.start()
    result = count_folds((2, 14), client=client, symmetric=False, checkpoint=journal)
    finished_at = time.monotonic()
    killer.join()
    assert killed_at and killed_at[0] < finished_at  # the worker died mid-run
    assert lines_when_killed[0] - 1 < result.tasks  # with tasks still to journal
    assert result.walk == "orbit"
    assert result.folds_total == VALUES["A001415"][14]
    with pytest.raises(ProcessLookupError):
        os.kill(pids[0], 0)  # the worker really died
    client.wait_for_workers(2, timeout=60)  # the nanny brings it back for the next tests


def test_a_finished_unit_lost_with_its_worker_before_it_was_taken_is_run_again(client, many_units, monkeypatch):
    """The "lost" path: a unit reported done, its worker killed before the client took its result."""
    import queue as queue_module

    import mapfold.run.cluster as cluster

    lost_units: list[str] = []

    class LoseTheFirstFinishedUnit:
        """The front's queue of finished units; a unit taken from it loses its worker first."""

        def __init__(self) -> None:
            self.inner = queue_module.SimpleQueue()

        def put(self, future) -> None:
            self.inner.put(future)

        def empty(self) -> bool:
            return self.inner.empty()

        def get(self, timeout=None):
            future = self.inner.get(timeout=timeout)
            # Until one loss is seen (a unit lost and run again between two looks is missed; the
            # next finished unit tries again), at most three workers.
            if "lost" not in lost_units and len(lost_units) < 3 and future.status == "finished":
                (holder,) = client.who_has([future])[future.key]
                os.kill(client.run(os.getpid, workers=[holder])[holder], signal.SIGKILL)
                deadline = time.monotonic() + 10  # the nanny sees its process die at once
                while future.status == "finished" and time.monotonic() < deadline:
                    time.sleep(0.001)
                lost_units.append("lost" if future.status != "finished" else "missed")
            return future

    monkeypatch.setattr(cluster, "queue", types.SimpleNamespace(SimpleQueue=LoseTheFirstFinishedUnit, Empty=queue_module.Empty))
    # 2x14's units take tens of milliseconds: the lost unit waits that long for the other worker,
    # long enough for the watch above to see it lost before it is finished again.
    result = count_folds((2, 14), client=client, symmetric=False)
    assert "lost" in lost_units  # a result really was lost before it was taken
    assert result.folds_total == VALUES["A001415"][14]
    client.wait_for_workers(2, timeout=60)  # the nanny brings it back for the next tests


def test_an_interrupted_cluster_journal_resumes_locally(client, tmp_path, many_units):
    journal = tmp_path / "1x17.journal"
    interrupt_once_journaled(
        journal, 20, lambda stop: count_folds((1, 17), client=client, checkpoint=journal, stop_event=stop)
    )  # some units are in
    result = count_folds((1, 17), threads=2, checkpoint=journal)
    assert 0 < result.tasks_resumed < result.tasks
    assert result.folds_total == VALUES["A000136"][17]
    assert result.symmetric_folds == VALUES["A000682"][9]  # 1 x (2n+1): A000682(n + 1)


def test_the_cli_counts_on_a_scheduler(client):
    address = client.scheduler.address
    completed = subprocess.run(
        [sys.executable, "-m", "mapfold", "count", "2x6", "--scheduler", address, "--json", "--no-progress"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout)["folds_total"] == VALUES["A001415"][6]


@pytest.mark.parametrize("address", ["tcp://127.0.0.1:9", "nonsense", "tcp://no-such-host.invalid:8786"])
def test_a_bad_scheduler_address_is_one_line_and_exit_2_within_seconds(address):
    started = time.monotonic()
    completed = subprocess.run(
        [sys.executable, "-m", "mapfold", "count", "2x5", "--scheduler", address], capture_output=True, text=True, timeout=60
    )
    assert completed.returncode == 2
    assert time.monotonic() - started < 15  # interpreter start and imports included
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mapfold: error: ")


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command to make test certificates")
def test_a_tls_scheduler_with_dasks_own_configuration(tmp_path):
    """`--scheduler tls://...` with the certificates in Dask's configuration (here its environment variables)."""

    def openssl(*arguments: str) -> None:
        subprocess.run(["openssl", *arguments], cwd=tmp_path, check=True, capture_output=True, timeout=60)

    # A throw-away CA and one certificate for the scheduler, the worker and the client.
    openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca-key.pem",
        "-out",
        "ca.pem",
        "-days",
        "1",
        "-subj",
        "/CN=ca",
    )
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "key.pem", "-out", "cert.csr", "-subj", "/CN=127.0.0.1")
    (tmp_path / "names.cnf").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    openssl(
        "x509", "-req", "-in", "cert.csr", "-CA", "ca.pem", "-CAkey", "ca-key.pem", "-CAcreateserial",
        "-out", "cert.pem", "-days", "1", "-extfile", "names.cnf",
    )  # fmt: skip
    environment = dict(os.environ, DASK_DISTRIBUTED__COMM__REQUIRE_ENCRYPTION="True")
    environment["DASK_DISTRIBUTED__COMM__TLS__CA_FILE"] = str(tmp_path / "ca.pem")
    for role in ("SCHEDULER", "WORKER", "CLIENT"):
        environment[f"DASK_DISTRIBUTED__COMM__TLS__{role}__CERT"] = str(tmp_path / "cert.pem")
        environment[f"DASK_DISTRIBUTED__COMM__TLS__{role}__KEY"] = str(tmp_path / "key.pem")
    scheduler_command = [sys.executable, "-m", "distributed.cli.dask_scheduler"]
    scheduler_file = tmp_path / "scheduler.json"
    processes = [
        subprocess.Popen(
            [
                *scheduler_command,
                "--protocol",
                "tls",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--scheduler-file",
                str(scheduler_file),
            ]
            + ["--no-dashboard"],
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    ]
    try:
        deadline = time.monotonic() + 60
        while not scheduler_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        address = json.loads(scheduler_file.read_text())["address"]
        assert address.startswith("tls://")
        processes.append(
            subprocess.Popen(
                [sys.executable, "-m", "distributed.cli.dask_worker", address, "--nthreads", "1", "--no-dashboard"],
                env=environment,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        completed = subprocess.run(
            [sys.executable, "-m", "mapfold", "count", "2x6", "--scheduler", address, "--json", "--no-progress"],
            env=environment,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert completed.returncode == 0, completed.stderr
        result = json.loads(completed.stdout)
        assert result["folds_total"] == VALUES["A001415"][6]
        assert result["threads"] == 1  # the TLS worker did the count
    finally:
        for process in reversed(processes):
            process.kill()
            process.wait(timeout=30)


def test_a_lost_scheduler_ends_the_run_with_an_error_and_a_resumable_journal(tmp_path):
    """The scheduler killed mid-run: exit 1 with a line that says so, within Dask's reconnect time; the journal resumes."""
    scheduler_file = tmp_path / "scheduler.json"
    journal = tmp_path / "2x15.journal"
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    scheduler = subprocess.Popen(
        [sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0"]
        + ["--scheduler-file", str(scheduler_file), "--no-dashboard"],
        **quiet,
    )
    processes = [scheduler]
    try:
        deadline = time.monotonic() + 60
        while not scheduler_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        address = json.loads(scheduler_file.read_text())["address"]
        processes.append(
            subprocess.Popen(
                [sys.executable, "-m", "distributed.cli.dask_worker", address, "--nthreads", "1", "--no-dashboard"], **quiet
            )
        )
        count = subprocess.Popen(
            [sys.executable, "-m", "mapfold", "count", "2x15", "--scheduler", address, "--checkpoint", str(journal)]
            + ["--json", "--no-progress"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        processes.append(count)
        deadline = time.monotonic() + 120
        while (not journal.exists() or journal.read_text().count("\n") < 2) and time.monotonic() < deadline:
            time.sleep(0.01)  # the first unit is in: the run is going
        assert count.poll() is None, "the count finished before the scheduler could be killed: make it bigger"
        scheduler.kill()
        killed_at = time.monotonic()
        stdout, stderr = count.communicate(timeout=120)
        assert time.monotonic() - killed_at < 60  # Dask tries to reconnect for 10 s by default, then gives up
        assert count.returncode == 1 and stdout == ""
        errors = [line for line in stderr.splitlines() if line.startswith("mapfold: error:")]
        assert len(errors) == 1
        assert "lost the connection to the Dask scheduler" in errors[0] and "run the same command to resume" in errors[0]
    finally:
        for process in reversed(processes):
            process.kill()
            process.wait(timeout=30)
    resumed = count_folds((2, 15), threads=2, checkpoint=journal, symmetric=True)
    assert 0 < resumed.tasks_resumed < resumed.tasks
    assert resumed.folds_total == VALUES["A001415"][15]
