"""What learners look at: answers and examples as readable tables rather than printed dicts."""

from __future__ import annotations

__all__ = ["side_by_side"]


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
