"""minigrad vs torch vs hand-written NumPy, side by side in one process.

    python benchmarks/run.py                 # the whole suite, a few minutes
    python benchmarks/run.py --quick         # under a minute
    python benchmarks/run.py --only step,ops --device cuda --out /tmp/bench.json
    python benchmarks/run.py --plot          # also a bar chart of minigrad/torch: results/ratios.png
    MINIGRAD_KERNELS=reference python benchmarks/run.py   # NumPy reference kernels instead of numba

Method. Every workload is first checked: from the same initial state, each contender's result
(loss, updated weights, gradients) must match the NumPy contender's (np.allclose at float32
tolerance). Then each contender is warmed up and its iterations-per-block calibrated to a target
block time; then blocks run interleaved (A B C, B C A, C A B, ...: the order rotates so that no
contender always runs first or after the same neighbour), each after a short untimed sleep: in
one process, OpenBLAS worker threads (numpy, minigrad) keep spinning ~0.1 s after a call and
starve torch's OpenMP threads on a small machine (measured: torch's step 2.3x slower without
the pause, on 2 cores). Each block times many iterations and
records the per-iteration time (an epoch is timed in slices of 100 batches, interleaved in the same
way, and summed); the table shows the median and min-max over blocks, and the
ratios of medians minigrad/torch and minigrad/numpy. A separate un-timed pass measures peak
memory (see memory.py). Results go to stdout as a table and to a JSON file written atomically.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import shlex
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
if ROOT not in sys.path:
    sys.path.insert(1, ROOT)  # benchmark the working tree's minigrad, not an installed one

import numpy as np  # noqa: E402

import memory  # noqa: E402
import workloads as W  # noqa: E402
from machine import CpuMonitor, machine_info  # noqa: E402

from minigrad._atomic import atomic_write  # noqa: E402

GROUPS = ("step", "epoch", "ops", "cnn", "rnn")
# The CNN and RNN workloads live beside their models (cnn.py, rnn.py); each module offers
# <group>_workloads(devices) -> [Workload], imported only when its group is asked for.
MODEL_GROUPS = {"cnn": "cnn_workloads", "rnn": "rnn_workloads"}
DEFAULT_PLOT = os.path.join(HERE, "results", "ratios.png")
DEFAULT_OUT = os.path.join(HERE, "results", "latest.json")

# mode -> settings; --blocks/--iters/--warmup/--epoch-batches override
MODES = {
    "full": dict(blocks=7, epoch_blocks=3, epoch_slice=100, target_block_s=0.25, warmup_s=0.3, cooldown_s=0.25,
                 epoch_batches=None, batch_sizes=W.BATCH_SIZES, tensor_dataset_variant=True, memory_iters=3,
                 memory_batches=20),
    "quick": dict(blocks=3, epoch_blocks=1, epoch_slice=50, target_block_s=0.05, warmup_s=0.05, cooldown_s=0.15,
                  epoch_batches=150, batch_sizes=W.BATCH_SIZES, tensor_dataset_variant=False, memory_iters=2,
                  memory_batches=10),
}


# --------------------------------------------------------------------------- harness

def time_block(contender, iters: int, collect: bool = True, max_s: float = float("inf")) -> tuple[float, int]:
    """(seconds per iteration, iterations run) over one block of up to `iters` iterations,
    device synchronised. The clock is checked every 16 iterations: a block that overruns
    max_s (a neighbour process woke up mid-run) stops early instead of running for minutes."""
    if collect:
        gc.collect()
    contender.sync()
    done = 0
    t0 = time.perf_counter()
    while done < iters:
        for _ in range(min(16, iters - done)):
            contender.run()
        done += min(16, iters - done)
        if done < iters and time.perf_counter() - t0 > max_s:
            break
    contender.sync()
    return (time.perf_counter() - t0) / done, done


def calibrate(contender, cfg: dict) -> int:
    """Warm up (fixed iterations, or doubling blocks for warmup_s), then pick iterations per
    block so that one block takes about target_block_s (unless --iters fixes it)."""
    per_iter = None
    if cfg["warmup_iters"] is not None:
        contender.warmup(cfg["warmup_iters"])
    else:
        contender.warmup(1)
        n, spent = 1, 0.0
        while spent < cfg["warmup_s"]:
            t, _ = time_block(contender, n, collect=False)
            per_iter = t if per_iter is None else min(per_iter, t)  # min: robust to a busy machine
            spent += t * n
            n = min(n * 2, 1 << 16)
    if cfg["iters"]:
        return cfg["iters"]
    if per_iter is None:
        per_iter, _ = time_block(contender, 1)
    return max(1, min(100_000, round(cfg["target_block_s"] / per_iter)))


def rotated(labels: list, turn: int) -> list:
    """The contenders' order in round ``turn``: A B C, B C A, C A B, ... so that none always runs first or
    after the same neighbour."""
    shift = turn % max(1, len(labels))
    return labels[shift:] + labels[:shift]


def time_blocks(contenders: dict, result: dict, iters: dict, cfg: dict, log) -> tuple[dict, dict]:
    """cfg["blocks"] blocks per contender, interleaved in a rotating order: seconds per iteration of each block,
    and the iterations each block ran."""
    max_block_s = max(1.0, 5 * cfg["target_block_s"])
    times = {label: [] for label in contenders}
    done = {label: [] for label in contenders}
    for b in range(cfg["blocks"]):
        for label in rotated(list(contenders), b):
            if result[label] is not None:      # failed in an earlier block
                continue
            time.sleep(cfg["cooldown_s"])      # let the previous contender's thread pools park
            try:
                t, n = time_block(contenders[label], iters[label], max_s=max_block_s)
                times[label].append(t)
                done[label].append(n)
            except Exception as e:
                result[label] = {"error": f"run: {type(e).__name__}: {e}"}
        log(".", end="")
    return times, done


def time_sliced_epochs(contenders: dict, result: dict, cfg: dict, log) -> tuple[dict, dict]:
    """cfg["epoch_blocks"] epochs per contender, each timed as the sum of its slices of cfg["epoch_slice"]
    batches, the contenders' slices interleaved in a rotating order. An epoch takes seconds, and this host's
    slow stretches last seconds too: whole-epoch blocks in turn let one stretch land on one contender's epoch,
    while slices of a fraction of a second spread it over all of them."""
    times = {label: [] for label in contenders}
    for _ in range(cfg["epoch_blocks"]):
        running = {label: c.slices(cfg["epoch_slice"]) for label, c in contenders.items() if result[label] is None}
        spent = dict.fromkeys(running, 0.0)
        turn = 0
        while running:
            for label in rotated(list(running), turn):
                gc.collect()
                time.sleep(cfg["cooldown_s"])  # let the previous contender's thread pools park
                t0 = time.perf_counter()
                try:
                    next(running[label])
                except StopIteration:
                    del running[label]
                except Exception as e:
                    result[label] = {"error": f"run: {type(e).__name__}: {e}"}
                    del running[label], spent[label]
                    continue
                spent[label] += time.perf_counter() - t0
            turn += 1
        for label, seconds in spent.items():
            times[label].append(seconds)
        log(".", end="")
    return times, {label: [1] * len(t) for label, t in times.items()}


def run_workload(wl: W.Workload, cfg: dict, log) -> dict:
    contenders, result = {}, {label: None for label in wl.factories}  # None keeps the order
    for label, make in wl.factories.items():
        try:
            contenders[label] = make()
        except ImportError as e:
            result[label] = {"skipped": f"{type(e).__name__}: {e}"}
        except Exception as e:
            result[label] = {"error": f"setup: {type(e).__name__}: {e}"}

    iters = {}
    for label, c in list(contenders.items()):
        time.sleep(cfg["cooldown_s"])
        try:
            if wl.fixed_iters is not None:
                c.warmup(cfg["warmup_iters"] if cfg["warmup_iters"] is not None else wl.warmup_iters)
                iters[label] = wl.fixed_iters
            else:
                iters[label] = calibrate(c, cfg)
        except Exception as e:
            result[label] = {"error": f"warmup: {type(e).__name__}: {e}"}
            del contenders[label]

    if wl.group == "epoch":
        times, done = time_sliced_epochs(contenders, result, cfg, log)
    else:
        times, done = time_blocks(contenders, result, iters, cfg, log)

    for label, c in contenders.items():
        if result[label] is not None:
            continue
        t = times[label]
        result[label] = {"median_s": statistics.median(t), "min_s": min(t), "max_s": max(t),
                         "per_iter_s": t, "iters_per_block": iters[label], "blocks": len(t)}
        if any(n != iters[label] for n in done[label]):
            result[label]["iters_run"] = done[label]   # blocks cut short by max_block_s
        if cfg["memory"]:
            if wl.group == "epoch":
                run = lambda c=c: c.warmup(cfg["memory_batches"])  # noqa: E731
                result[label]["memory_pass"] = f"{cfg['memory_batches']} batches"
            else:
                k = cfg["memory_iters"]
                run = lambda c=c, k=k: c.warmup(k)  # noqa: E731
                result[label]["memory_pass"] = f"{k} iterations"
            result[label]["memory"] = memory.measure(c.framework, c.device, run)
    contenders.clear()
    gc.collect()
    return result


def ratios(timings: dict) -> dict:
    """median(minigrad*) / median(torch on the same device), and / median(numpy)."""
    out = {}
    med = {k: v["median_s"] for k, v in timings.items() if "median_s" in v}
    for label, t in med.items():
        if not label.startswith("minigrad"):
            continue
        torch_label = "torch-cuda" if label.endswith("-cuda") else "torch"
        r = {}
        if torch_label in med:
            r["vs_torch"] = t / med[torch_label]
        if "numpy" in med:
            r["vs_numpy"] = t / med["numpy"]
        out[label] = r
    return out


def run_checks(wls, log) -> dict:
    checks = {}
    for wl in wls:
        log(f"  check {wl.key} ...", end="")
        t0 = time.perf_counter()
        try:
            res = wl.check() if wl.check is not None else W.snapshot_check(wl)
        except Exception as e:
            res = {"*": {"passed": False, "error": f"{type(e).__name__}: {e}"}}
        checks[wl.key] = res
        bad = [k for k, v in res.items() if v.get("passed") is False]
        log(f" {'FAILED: ' + ', '.join(bad) if bad else 'ok'} ({time.perf_counter() - t0:.1f}s)")
    return checks


# --------------------------------------------------------------------------- output

def fmt_time(s):
    if s is None:
        return "-"
    if s < 1e-3:
        return f"{s * 1e6:.1f} us"
    if s < 1:
        return f"{s * 1e3:.3g} ms"
    return f"{s:.3g} s"


def fmt_range(lo, hi):
    a, b = fmt_time(lo).split(), fmt_time(hi).split()
    return f"{a[0]}-{b[0]} {b[1]}" if a[1] == b[1] else f"{fmt_time(lo)}-{fmt_time(hi)}"


def fmt_bytes(n):
    if n is None:
        return "-"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024


def table(report) -> str:
    has_cuda = any("cuda_peak" in c.get("memory", {}) for w in report["workloads"]
                   for c in w["contenders"].values())
    head = ["workload", "contender", "median", "min-max", "iters x blocks", "vs torch", "vs numpy",
            "peak RSS d", "traced peak"] + (["cuda peak"] if has_cuda else [])
    rows, notes = [], []
    for w in report["workloads"]:
        first = True
        for label, c in w["contenders"].items():
            name = w["key"] if first else ""
            first = False
            check = report["correctness"]["workloads"].get(w["key"], {}).get(label, {})
            mark = " (CHECK FAILED)" if check.get("passed") is False else ""
            if "median_s" not in c:
                notes.append(f"[{len(notes) + 1}] {w['key']} {label}: {c.get('skipped') or c.get('error')}")
                rows.append([name, label + mark, "skipped" if "skipped" in c else "error", f"see [{len(notes)}]",
                             "", "", "", "", ""] + ([""] if has_cuda else []))
                continue
            r = w["ratios"].get(label, {})
            m = c.get("memory", {})
            rows.append([name, label + mark, fmt_time(c["median_s"]), fmt_range(c["min_s"], c["max_s"]),
                         f"{c['iters_per_block']} x {c['blocks']}" + ("*" if "iters_run" in c else ""),
                         f"{r['vs_torch']:.2f}x" if "vs_torch" in r else "",
                         f"{r['vs_numpy']:.2f}x" if "vs_numpy" in r else "",
                         fmt_bytes(m.get("peak_rss_delta")), fmt_bytes(m.get("peak_traced"))]
                        + ([fmt_bytes(m.get("cuda_peak"))] if has_cuda else []))
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows)]
    line = lambda cells: "  ".join(str(x).ljust(wd) for x, wd in zip(cells, widths)).rstrip()  # noqa: E731
    out = [line(head), line(["-" * wd for wd in widths])]
    prev = None
    for row in rows:
        if row[0] and prev is not None:
            out.append("")
        out.append(line(row))
        prev = row
    if any("*" in row[4] for row in rows):
        notes.append("* some blocks stopped early, past max_block_s: see iters_run in the JSON")
    return "\n".join(out + ([""] + notes if notes else []))


def summary(report) -> str:
    lines = ["ratio of medians (lower is better for minigrad):"]
    for w in report["workloads"]:
        for label, r in w["ratios"].items():
            parts = [f"{label}/torch {r['vs_torch']:.2f}x" if "vs_torch" in r else "",
                     f"{label}/numpy {r['vs_numpy']:.2f}x" if "vs_numpy" in r else ""]
            lines.append(f"  {w['key']:<40} " + "   ".join(p for p in parts if p))
    return "\n".join(lines)


def write_json_atomic(path: str, obj) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with atomic_write(path, "w") as f:
        json.dump(obj, f, indent=1, default=_json_default)
        f.write("\n")


def _json_default(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


def plot_ratios(report, path: str) -> None:
    """A horizontal bar per workload and minigrad contender: median(minigrad) / median(torch), 1 = parity."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    bars = [(w["key"] + ("" if label == "minigrad" else " " + label.replace("minigrad", "", 1)), r["vs_torch"])
            for w in report["workloads"] for label, r in w["ratios"].items() if "vs_torch" in r]
    fig, ax = plt.subplots(figsize=(8, 0.32 * len(bars) + 1.4))
    names, values = zip(*bars) if bars else ((), ())
    ys = range(len(bars))[::-1]
    ax.barh(ys, values, color=["tab:green" if v <= 1 else "tab:red" for v in values])
    ax.set_yticks(list(ys), names, fontsize=8)
    ax.axvline(1.0, color="black", linewidth=0.8)
    for y, v in zip(ys, values):
        ax.text(v, y, f" {v:.2f}x", va="center", fontsize=7)
    busy = report.get("machine_load", {}).get("other_cpu_frac")
    threads = {k: v for k, v in os.environ.items() if k.endswith("_NUM_THREADS")} if "threads" not in report \
        else report["threads"]
    ax.set_xlabel("minigrad / torch, median time (lower is better; < 1: minigrad faster)")
    ax.set_title(f"minigrad vs torch, {report['mode']} run {report['timestamp'][:16]}, kernels: {report['kernels']}"
                 + (f"\nother processes used {busy:.0%} of the CPUs" if busy is not None and busy >= 0.05 else "")
                 + ("\nthreads: " + ", ".join(f"{k[:-len('_NUM_THREADS')]} {v}" for k, v in sorted(threads.items()))
                    if threads else ""),
                 fontsize=9)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with atomic_write(path, "wb") as f:
        fig.savefig(f, format="png", dpi=110)
    plt.close(fig)


# --------------------------------------------------------------------------- CLI

def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="fewer/shorter blocks, partial epoch: under a minute")
    p.add_argument("--only", default=",".join(GROUPS), help="comma-separated groups: " + ",".join(GROUPS))
    p.add_argument("--match", default=None,
                   help="comma-separated substrings; keep workloads whose key contains one (e.g. 784-100-10/b64)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda", "all"), default="auto",
                   help="auto: CPU, plus CUDA contenders when both minigrad and torch see a GPU; "
                        "cuda: only CUDA contenders (numpy stays as the reference); all: both, GPU required")
    p.add_argument("--batch-sizes", default=None, help="step workloads' batch sizes, e.g. 64,256")
    p.add_argument("--blocks", type=int, default=None, help="timed blocks per contender")
    p.add_argument("--iters", type=int, default=None, help="fixed iterations per block (no calibration)")
    p.add_argument("--warmup", type=int, default=None, help="fixed warm-up iterations (epoch: batches)")
    p.add_argument("--epoch-batches", type=int, default=None, help="stop each epoch after this many batches")
    p.add_argument("--epoch-slice", type=int, default=None,
                   help="batches per timed slice of an epoch (contenders' slices interleave)")
    p.add_argument("--fmnist-root", default=W.FMNIST_ROOT)
    p.add_argument("--no-memory", action="store_true", help="skip the un-timed peak-memory pass")
    p.add_argument("--check-only", action="store_true", help="run the correctness checks, time nothing")
    p.add_argument("--wait-idle", type=float, default=0, metavar="SECONDS",
                   help="first wait up to SECONDS for other processes to use < 10%% of the CPUs")
    p.add_argument("--out", default=DEFAULT_OUT, help=f"JSON output path (default {os.path.relpath(DEFAULT_OUT)})")
    p.add_argument("--plot-from", default=None, metavar="JSON",
                   help="only redraw the chart (--plot) from an earlier run's JSON, e.g. results/latest.json")
    p.add_argument("--kernels-ab", action="store_true",
                   help="also time minigrad on the NumPy reference kernels (minigrad[reference]), interleaved")
    p.add_argument("--plot", nargs="?", const=DEFAULT_PLOT, default=None, metavar="PNG",
                   help=f"write a bar chart of minigrad/torch per workload (needs matplotlib; default path "
                        f"{os.path.relpath(DEFAULT_PLOT)})")
    return p.parse_args(argv)


def cuda_available() -> tuple[bool, str]:
    try:
        import minigrad
        import torch
    except ImportError as e:
        return False, f"{type(e).__name__}: {e}"
    try:
        if not minigrad.cuda.is_available():
            return False, "minigrad.cuda.is_available() is False"
        if not torch.cuda.is_available():
            return False, "torch.cuda.is_available() is False"
    except Exception as e:
        return False, f"{type(e).__name__}: {e}"
    return True, ""


def kernel_table() -> str:
    """Which CPU kernel set minigrad picked (numba twins or the NumPy reference; see MINIGRAD_KERNELS)."""
    from minigrad import backend
    return backend.kernels(np).__name__.rsplit(".", 1)[-1]


def model_workloads(group: str, factory: str, devices, log) -> list:
    """The workloads of ``<group>.py`` (e.g. cnn.py's cnn_workloads); none, with a note, if it is not there yet."""
    import importlib
    try:
        make = getattr(importlib.import_module(group), factory)
    except (ImportError, AttributeError) as e:
        log(f"no {group} workloads: {type(e).__name__}: {e}")
        return []
    return make(devices)


def wait_idle(max_s: float, log, threshold: float = 0.10, window_s: float = 2.0) -> None:
    """Sleep until other processes use less than `threshold` of the CPUs over a window."""
    deadline = time.monotonic() + max_s
    while True:
        mon = CpuMonitor()
        time.sleep(window_s)
        busy = mon.stop().get("other_cpu_frac")
        if busy is None or busy < threshold:
            return
        if time.monotonic() >= deadline:
            log(f"machine still busy (other processes use {busy:.0%} of the CPUs); running anyway")
            return
        log(f"waiting for an idle machine (other processes use {busy:.0%} of the CPUs) ...")


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.plot_from:
        with open(args.plot_from) as f:
            plot_ratios(json.load(f), args.plot or DEFAULT_PLOT)
        print(f"chart: {args.plot or DEFAULT_PLOT}")
        return 0
    wall0, run_monitor = time.perf_counter(), CpuMonitor()
    mode = "quick" if args.quick else "full"
    cfg = dict(MODES[mode])
    if args.blocks is not None:
        cfg["blocks"] = cfg["epoch_blocks"] = args.blocks
    if args.epoch_batches is not None:
        cfg["epoch_batches"] = args.epoch_batches
    if args.epoch_slice is not None:
        cfg["epoch_slice"] = args.epoch_slice
    if args.batch_sizes:
        cfg["batch_sizes"] = tuple(int(b) for b in args.batch_sizes.split(","))
    cfg.update(iters=args.iters, warmup_iters=args.warmup, memory=not args.no_memory)

    groups = [g.strip() for g in args.only.split(",") if g.strip()]
    unknown = set(groups) - set(GROUPS)
    if unknown:
        print(f"unknown group(s) {sorted(unknown)}; choose from {GROUPS}", file=sys.stderr)
        return 2

    ok, why = cuda_available()
    if args.device in ("cuda", "all") and not ok:
        print(f"--device {args.device}: no usable GPU ({why})", file=sys.stderr)
        return 2
    devices = {"auto": ["cpu"] + (["cuda"] if ok else []), "cpu": ["cpu"],
               "cuda": ["cuda"], "all": ["cpu", "cuda"]}[args.device]

    log = lambda *a, **k: print(*a, **k, file=sys.stderr, flush=True)  # noqa: E731
    if args.wait_idle > 0:
        wait_idle(args.wait_idle, log)
    command = shlex.join([sys.executable] + (sys.argv if argv is None else ["benchmarks/run.py", *argv]))
    info = machine_info()
    print(f"minigrad benchmark  |  {info['timestamp']}")
    print(f"command: {command}")
    print(f"mode: {mode}; devices: {', '.join(devices)}" + ("" if ok else f" (no CUDA: {why})"))
    print(f"cpu: {info['cpu_model']} x{info['cpu_count']} (affinity {info['cpu_affinity']}); "
          f"numpy {info['numpy']['version']} ({info['numpy'].get('blas_summary', '?')}); "
          f"torch {info['torch'].get('version', '-')} ({info['torch'].get('num_threads', '-')} threads); "
          f"minigrad {info['minigrad'].get('version', '-')}")
    if info.get("gpu"):
        print(f"gpu: {info['gpu']}")
    print("OpenBLAS env: " + ", ".join(f"{k}={v}" for k, v in info["openblas_env"].items()))
    kernels = kernel_table()
    print(f"minigrad CPU kernels: {kernels}")
    print(flush=True)

    wls = []
    if "step" in groups:
        wls += W.step_workloads(devices, cfg["batch_sizes"])
    if "epoch" in groups:
        wls += W.epoch_workloads(devices, cfg["epoch_batches"], args.fmnist_root,
                                 tensor_dataset_variant=cfg["tensor_dataset_variant"])
    if "ops" in groups:
        wls += W.ops_workloads(devices)
    for group, factory in MODEL_GROUPS.items():
        if group in groups:
            wls += model_workloads(group, factory, devices, log)
    if args.kernels_ab:
        W.add_reference_kernels(wls)
    if args.match:
        pats = [m.strip() for m in args.match.split(",") if m.strip()]
        wls = [w for w in wls if any(p in w.key for p in pats)]
    if not wls:
        print("no workload selected", file=sys.stderr)
        return 2

    # Objects that exist now (torch, minigrad, numpy modules) are moved out of the collector's
    # reach, so the gc.collect() before each block is cheap and a library's import-time objects
    # don't make another contender's garbage collections slower than in a process of its own.
    gc.collect()
    gc.freeze()

    log(f"correctness checks ({len(wls)} workloads):")
    checks = run_checks(wls, log)
    passed = all(v.get("passed") is not False for res in checks.values() for v in res.values())

    results = []
    if not args.check_only:
        log(f"timing ({mode}):")
        for i, wl in enumerate(wls, 1):
            log(f"  [{i}/{len(wls)}] {wl.key} ", end="")
            t0, mon = time.perf_counter(), CpuMonitor()
            timings = run_workload(wl, cfg, log)
            machine_load = mon.stop()
            busy = machine_load.get("other_cpu_frac")
            log(f" {time.perf_counter() - t0:.1f}s" + (f"  (other processes used {busy:.0%} of the CPUs)"
                                                        if busy is not None and busy >= 0.05 else ""))
            results.append({"key": wl.key, "group": wl.group, "title": wl.title, "unit": wl.unit,
                            "meta": wl.meta, "contenders": timings, "ratios": ratios(timings),
                            "machine_load": machine_load})

    report = {
        "schema": 1,
        "command": command,
        "timestamp": info["timestamp"],
        "mode": mode,
        "settings": {k: (list(v) if isinstance(v, tuple) else v) for k, v in cfg.items()},
        "devices": devices,
        "machine": info,
        "kernels": kernels,
        "threads": {k: v for k, v in os.environ.items() if k.endswith("_NUM_THREADS")},
        "method": {
            "timing": "per contender: warm-up, then iterations per block calibrated to target_block_s; "
                      "blocks interleaved with a rotating order, each preceded by an untimed cooldown_s sleep "
                      "so that the previous contender's spinning BLAS/OpenMP worker threads (OpenBLAS spins "
                      "~0.1 s after a call) have parked and don't steal the cores; "
                      "each block records seconds per iteration "
                      "(time.perf_counter around the block, device synchronised before and after, "
                      "gc.collect() before); median and min/max are over blocks. An epoch is one block, timed "
                      "as the sum of its slices of epoch_slice batches, the contenders' slices interleaved in the "
                      "same way",
            "ratios": "median(minigrad) / median(torch on the same device), median(minigrad) / median(numpy)",
            "memory": memory.__doc__.strip(),
            "correctness": f"np.allclose(rtol={W.RTOL}, atol={W.ATOL_REL} * max|reference|) of loss, updated "
                           "weights / gradients against the NumPy contender after each of the first steps "
                           "from identical weights; epoch: identical first unshuffled batch",
        },
        "correctness": {"passed": passed, "workloads": checks},
        "workloads": results,
        "machine_load": run_monitor.stop(),
        "wall_s": time.perf_counter() - wall0,
    }
    write_json_atomic(args.out, report)

    print("correctness: " + ("PASSED" if passed else "FAILED") + " (every contender vs the NumPy reference)")
    for key, res in checks.items():
        cells = []
        for label, v in res.items():
            if "skipped" in v:
                cells.append(f"{label} skipped")
            elif v.get("passed"):
                cells.append(f"{label} ok" + (f" (max|d| {v['max_abs_diff']:.1e})" if "max_abs_diff" in v else ""))
            else:
                cells.append(f"{label} FAILED {v.get('error') or v}")
        print(f"  {key:<40} " + "; ".join(cells))
    if results:
        print()
        print(table(report))
        print()
        print(summary(report))
    busy = report["machine_load"].get("other_cpu_frac")
    if busy is not None:
        print(f"\nother processes used {busy:.0%} of the machine's CPU time while this ran"
              + (" -- the machine was not idle: timings are noisier and slower than on an idle one"
                 if busy >= 0.05 else ""))
    if args.plot and results:
        try:
            plot_ratios(report, args.plot)
            print(f"chart: {args.plot}")
        except ImportError as e:
            print(f"no chart: {e} (pip install minigrad[plot])")
    print(f"wall time {report['wall_s']:.1f}s; JSON: {args.out}")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
