"""The benchmark harness runs end to end in a tiny mode; no timing assertions, ever."""
import json
import os
import subprocess
import sys

import pytest

pytest.importorskip("torch")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUN = os.path.join(ROOT, "benchmarks", "run.py")


def _run(tmp_path, *args, files=("bench.json",)):
    out = tmp_path / "bench.json"
    proc = subprocess.run([sys.executable, RUN, *args, "--blocks", "2", "--iters", "2", "--warmup", "1",
                           "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(files), "a temporary file was left behind"
    return json.loads(out.read_text()), proc.stdout


def test_step_workload_runs_and_checks(tmp_path):
    report, stdout = _run(tmp_path, "--only", "step", "--batch-sizes", "64", "--match", "784-100-10/b64")

    assert report["correctness"]["passed"] is True
    check = report["correctness"]["workloads"]["step/784-100-10/b64"]
    assert check["torch"]["passed"] and check["minigrad"]["passed"]

    (wl,) = report["workloads"]
    assert wl["key"] == "step/784-100-10/b64"
    for label in ("numpy", "torch", "minigrad"):
        c = wl["contenders"][label]
        assert c["blocks"] == 2 and c["iters_per_block"] == 2 and len(c["per_iter_s"]) == 2
        assert c["min_s"] <= c["median_s"] <= c["max_s"]
        assert "peak_rss_delta" in c["memory"]
    assert set(wl["ratios"]["minigrad"]) == {"vs_torch", "vs_numpy"}

    machine = report["machine"]
    for key in ("cpu_model", "cpu_count", "numpy", "torch", "minigrad", "openblas_env", "timestamp"):
        assert key in machine
    assert "benchmarks/run.py" in report["command"]
    assert "command:" in stdout and "step/784-100-10/b64" in stdout


def test_ops_workload_runs_and_plots(tmp_path):
    pytest.importorskip("matplotlib", reason="the chart needs the plot extra")
    chart = tmp_path / "ratios.png"
    report, stdout = _run(tmp_path, "--only", "ops", "--match", "tiny-graph", "--no-memory", "--plot", str(chart),
                          files=("bench.json", "ratios.png"))
    assert report["correctness"]["passed"] is True
    (wl,) = report["workloads"]
    assert set(wl["contenders"]) >= {"numpy", "torch", "minigrad"}
    assert all("median_s" in c for c in wl["contenders"].values())
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert report["kernels"] in ("numba_cpu", "reference") and f"kernels: {report['kernels']}" in stdout


def _workloads():
    if os.path.join(ROOT, "benchmarks") not in sys.path:
        sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
    import workloads
    return workloads


def test_epoch_slices_cover_the_epoch_once():
    class Counting(_workloads().EpochContender):
        def __init__(self, batches):
            self.max_batches, self.ran, self.syncs = batches, 0, 0

        def _batches(self, limit):
            for _ in range(limit):
                self.ran += 1
                yield

        def sync(self):
            self.syncs += 1

    for batches, size, pauses in [(5, 2, 3), (6, 2, 4), (3, 5, 1)]:
        c = Counting(batches)
        assert sum(1 for _ in c.slices(size)) == pauses
        assert c.ran == batches and c.syncs == pauses


def test_epoch_workload_runs_in_slices(tmp_path):
    root = _workloads().FMNIST_ROOT
    if not os.path.exists(os.path.join(root, "train-images-idx3-ubyte.gz")):
        pytest.skip(f"Fashion-MNIST is not installed in {root} (apt-get install dataset-fashion-mnist)")
    report, _ = _run(tmp_path, "--only", "epoch", "--epoch-batches", "5", "--epoch-slice", "2", "--no-memory",
                     "--quick")
    assert report["correctness"]["passed"] is True
    (wl,) = report["workloads"]
    assert wl["meta"]["batches"] == 5
    for label in ("numpy", "torch", "minigrad"):
        c = wl["contenders"][label]
        assert c["blocks"] == 2 and len(c["per_iter_s"]) == 2 and all(t > 0 for t in c["per_iter_s"])


def test_floor_runs_every_mlp():
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", "floor.py"), "--batch", "8",
                           "--blocks", "1", "--target-block-s", "0.005", "--warmup-s", "0.01"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = [line.split() for line in proc.stdout.splitlines() if line.split()[:2] in
            (["784-520-320-240-120-10", "8"], ["784-100-10", "8"])]
    assert len(rows) == 2
    for row in rows:
        assert row[-1].endswith("x") and float(row[-1][:-1]) > 0
