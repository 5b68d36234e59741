"""Where a Python process spends its wall time, by sampling the main thread's stack (no profiler to install).

A thread wakes every `interval` seconds and records the main thread's stack. Each sample is then charged to
the innermost frame that belongs to a library of interest (Triton, Inductor, Dynamo, bitsandbytes, Unsloth...),
so time spent waiting on a GPU kernel, a compile worker or a file shows up under the library that asked for it.

    sampler = StackSampler().start()
    ...                                     # the work to profile
    sampler.stop()
    print(sampler.table(t0, t1))            # share of samples per library, and the top call sites, in [t0, t1]
"""

from __future__ import annotations

import sys
import threading
import time
from collections import Counter

# (label, path fragment), innermost match wins; more specific fragments first.
LIBRARIES = [
    ("triton: compile / autotune", "/triton/"),
    ("torch inductor (codegen, compile workers)", "/torch/_inductor/"),
    ("torch dynamo (tracing)", "/torch/_dynamo/"),
    ("torch aot autograd / functorch", "/torch/_functorch/"),
    ("bitsandbytes", "/bitsandbytes/"),
    ("unsloth_zoo", "/unsloth_zoo/"),
    ("unsloth", "/unsloth/"),
    ("unsloth compiled cache", "unsloth_compiled_cache"),
    ("peft", "/peft/"),
    ("trl", "/trl/"),
    ("accelerate", "/accelerate/"),
    ("datasets", "/datasets/"),
    ("transformers", "/transformers/"),
    ("torch (other: kernels, autograd)", "/torch/"),
    ("stoic_workshop", "/stoic_workshop/"),
]


def _library(filename: str) -> str | None:
    for label, fragment in LIBRARIES:
        if fragment in filename:
            return label
    return None


class StackSampler:
    def __init__(self, interval: float = 0.05):
        self.interval = interval
        self.samples: list[tuple[float, tuple[tuple[str, str, int], ...]]] = []  # (time, stack innermost first)
        self._main = threading.main_thread().ident
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="stack-sampler")

    def start(self) -> StackSampler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            frame = sys._current_frames().get(self._main)
            stack = []
            while frame is not None:
                stack.append((frame.f_code.co_filename, frame.f_code.co_name, frame.f_lineno))
                frame = frame.f_back
            self.samples.append((time.perf_counter(), tuple(stack)))

    def summary(self, t0: float = float("-inf"), t1: float = float("inf"), top: int = 12) -> dict:
        """Seconds per library, and the top call sites (innermost library frame, innermost Unsloth frame)."""
        chosen = [stack for t, stack in self.samples if t0 <= t <= t1]
        libraries, sites, unsloth_sites = Counter(), Counter(), Counter()
        for stack in chosen:
            hit = next(((f, _library(f[0])) for f in stack if _library(f[0])), (None, "other (python, I/O)"))
            libraries[hit[1]] += 1
            if hit[0] is not None:
                sites[_site(hit[0])] += 1
            caller = next((f for f in stack if "/unsloth" in f[0] or "unsloth_compiled_cache" in f[0]), None)
            if caller is not None:
                unsloth_sites[_site(caller)] += 1
        seconds = lambda n: round(n * self.interval, 1)  # noqa: E731
        return {"seconds": seconds(len(chosen)),
                "by_library": {k: seconds(v) for k, v in libraries.most_common()},
                "top_sites": {k: seconds(v) for k, v in sites.most_common(top)},
                "top_unsloth_callers": {k: seconds(v) for k, v in unsloth_sites.most_common(top)}}


def _site(frame: tuple[str, str, int]) -> str:
    filename, function, line = frame
    for marker in ("site-packages/", "dist-packages/", "/site/"):
        if marker in filename:
            filename = filename.split(marker, 1)[1]
            break
    return f"{filename}:{function}:{line}"


def table(summary: dict, title: str) -> str:
    lines = [f"{title}: {summary['seconds']} s sampled", "| library | s | share |", "|---|---|---|"]
    total = summary["seconds"] or 1
    lines += [f"| {k} | {v} | {v / total:.0%} |" for k, v in summary["by_library"].items()]
    for key, label in (("top_sites", "innermost library frame"), ("top_unsloth_callers", "innermost Unsloth frame")):
        lines += ["", f"| {label} | s |", "|---|---|"] + [f"| `{k}` | {v} |" for k, v in summary[key].items()]
    return "\n".join(lines)
