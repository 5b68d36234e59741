"""Time and energy of each arm of `stoic-workshop knowledge`, side by side with the closed-book arm as the baseline.

    python bench/knowledge_times.py                    # runs the experiment into runs/knowledge-bench, then prints
    python bench/knowledge_times.py FOLDER [FOLDER...] # prints the table of finished runs (e.g. a CPU and a GPU run)

Each row is one arm: its seconds (training + answering + perplexity), kWh, and both as a ratio to the `base` arm of
the same run; the last line is the whole run against the issue's budget (20 minutes on 2 CPU cores).
"""

import subprocess
import sys
from pathlib import Path

import pandas as pd

BUDGET_S = 20 * 60


def table(folder: Path) -> pd.DataFrame:
    arms = pd.read_csv(folder / "knowledge.csv")
    arms = arms[arms.arm != "guess"].set_index("arm")
    base = arms.loc["base"]
    return pd.DataFrame({"seconds": arms["seconds"].round(0), "x base": (arms["seconds"] / base["seconds"]).round(2),
                         "Wh": (arms["kWh"] * 1000).round(3), "Wh x base": (arms["kWh"] / base["kWh"]).round(2),
                         "training tokens": arms["training tokens"].astype(int)})


def main(folders: list[str]) -> None:
    if not folders:
        folders = ["runs/knowledge-bench"]
        subprocess.run(["stoic-workshop", "knowledge", "--out", folders[0]], check=True)
    for folder in map(Path, folders):
        rows = table(folder)
        total = rows["seconds"].sum()
        print(f"\n{folder}\n{rows.to_string()}\n"
              f"all arms: {total:.0f} s = {total / 60:.1f} min, {total / BUDGET_S:.2f}x the 20-minute budget")


if __name__ == "__main__":
    main(sys.argv[1:])
