"""The one reader of gold outside Spark: training, evaluation, the producer, monitor and the app."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from textrepair.config import Settings
from textrepair.data import tables

if TYPE_CHECKING:
    import pyarrow as pa

GOLD_COLUMNS = ("id", "clean", "corrupted", "mutations", "profile", "split", "source")


def read_gold(
    settings: Settings,
    *,
    splits: Sequence[str] | None = None,
    profile: str | None = None,
    columns: Sequence[str] = GOLD_COLUMNS,
) -> pa.Table:
    """Gold's `columns` for rows of `splits` and `profile` (None: all), ordered by id."""
    import pyarrow.compute as pc

    wanted = list(dict.fromkeys([*columns, "id", "split", "profile"]))
    table = tables.read_arrow(
        settings.lake_path("gold"),
        columns=wanted,
        storage_options=settings.storage.storage_options,
    )
    if splits is not None:
        table = table.filter(pc.is_in(table["split"], value_set=_strings(splits)))
    if profile is not None:
        table = table.filter(pc.equal(table["profile"], profile))
    # Sorted by id: the same rows come back in the same order whatever the file layout.
    return table.sort_by("id").select(list(columns))


def gold_rows(
    settings: Settings,
    splits: Sequence[str],
    *,
    profile: str | None = None,
    columns: Sequence[str] = GOLD_COLUMNS,
) -> list[dict[str, Any]]:
    """`read_gold` as a list of row dicts, ordered by id."""
    return read_gold(settings, splits=splits, profile=profile, columns=columns).to_pylist()


def _strings(values: Sequence[str]) -> pa.Array:
    import pyarrow as pa

    return pa.array(list(values), type=pa.string())
