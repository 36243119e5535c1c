"""Small table helpers shared by the empirical figure functions (selection only, no drawing)."""

from __future__ import annotations

import pandas as pd


def one_condition(df: pd.DataFrame, condition: str | None, who: str) -> pd.DataFrame:
    """The rows of one experimental condition of a run table.

    A table without a ``condition`` column, or with a single condition, is returned as is
    (restricted to that condition).  With several conditions the caller must name one:
    ``condition=None`` then raises a ValueError that lists them, prefixed by ``who`` (the
    figure function's name), so a user sees which call to fix.
    """
    if "condition" not in df.columns:
        return df
    conditions = list(dict.fromkeys(df["condition"]))
    if condition is None and len(conditions) > 1:
        raise ValueError(f"{who}: several conditions {conditions}; pass condition=.")
    return df[df["condition"] == (condition or conditions[0])]
