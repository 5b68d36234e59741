"""What learners look at: answers and examples as readable tables rather than printed dicts."""

from __future__ import annotations

__all__ = ["examples", "side_by_side"]


def readable_table(table, width: str):
    """Left-aligned, top-aligned, wrapped text: long replies stay readable beside each other."""
    return (table.style.hide(axis="index")
            .set_properties(**{"text-align": "left", "vertical-align": "top", "white-space": "pre-wrap",
                               "max-width": width, "min-width": "12em"})
            .set_table_styles([{"selector": "th", "props": [("text-align", "left")]}]))


def side_by_side(prompts: list[str], answers: dict[str, list[str]], width: str = "28em"):
    """A table with one row per prompt and one column per model, text wrapped for reading.

    Example: `side_by_side(PROMPTS, {"Base": base_answers, "Instruct": it_answers})`
    Returns a pandas Styler: the notebook renders it as HTML; `.data` is the DataFrame.
    """
    import pandas as pd

    for label, column in answers.items():
        if len(column) != len(prompts):
            raise ValueError(f"{label!r} has {len(column)} answers for {len(prompts)} prompts")
    return readable_table(pd.DataFrame({"Prompt": prompts, **answers}), width)


def examples(dataset, n: int = 3, width: str = "36em"):
    """The first `n` conversations as a readable table: one row per example, one column per turn.

    Example: `sw.examples(sw.make_dataset(n=80), n=3)`  # -> a pandas Styler; `.data` is the DataFrame
    """
    import pandas as pd

    rows = []
    for row in dataset.select(range(min(n, len(dataset)))):
        turns = {t["role"]: t["content"] for t in row["messages"]}
        rows.append({**{k: row[k] for k in ("area", "idea") if k in row},
                     "complaint (user)": turns.get("user", ""), "Stoic reply (assistant)": turns.get("assistant", "")})
    return readable_table(pd.DataFrame(rows), width)
