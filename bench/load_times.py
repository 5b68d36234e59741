"""Load times of the offline models: first load (GGUF conversion) against cached loads.

    python bench/load_times.py [--repeats 3]

The baseline is the first load into an empty cache, which converts the GGUF file; the cached
load should be many times faster (the course promises at most ~10 s on a 2-core laptop).
"""

import argparse
import statistics
import tempfile
import time

import stoic_workshop as sw
from stoic_workshop.models import OFFLINE_PAIR


def timed_load(name, cache):
    start = time.perf_counter()
    model, _ = sw.load_model(name, cache=cache, verbose=False)
    seconds = time.perf_counter() - start
    del model
    return seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rows = []
    for name in OFFLINE_PAIR:
        with tempfile.TemporaryDirectory() as cache:
            first = timed_load(name, cache)
            cached = [timed_load(name, cache) for _ in range(args.repeats)]
        rows.append((name, first, statistics.median(cached), max(cached)))
    print(f"\n{sw.hardware()}")
    print(f"{'model':24} {'first load (s)':>15} {'cached median (s)':>18} {'cached max (s)':>15} {'speed-up':>9}")
    for name, first, median, worst in rows:
        print(f"{name:24} {first:15.1f} {median:18.1f} {worst:15.1f} {first / median:8.1f}x")


if __name__ == "__main__":
    main()
