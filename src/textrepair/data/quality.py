"""Data-quality rules on Spark frames.

Window rules are Spark column expressions, so each failing row can be labelled with the rule it
broke and sent to quarantine. The silver table as a whole is then validated with pandera, a last
guard that fails the stage if anything slipped past the rules.
"""

from __future__ import annotations

import pandera.pyspark as pa
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from textrepair.config import SilverConfig

# C0 controls other than tab and newline, and DEL (Java regex syntax).
_CONTROL_CHARS = r"[\x00-\x08\x0b-\x1f\x7f]"


def window_rules(config: SilverConfig) -> list[tuple[str, Column]]:
    """(rule name, condition that is true when a window breaks it), in order of precedence."""
    text = F.col("text")
    letters = F.char_length(F.regexp_replace(text, r"[^\p{L}]", ""))
    visible = F.char_length(F.regexp_replace(text, r"\s", ""))
    return [
        ("too_short", F.char_length(text) < config.min_window_chars),
        ("too_long", F.octet_length(text) > config.max_window_bytes),
        ("control_chars", text.rlike(_CONTROL_CHARS)),
        ("replacement_char", F.instr(text, "\ufffd") > 0),
        ("low_letter_ratio", letters < F.lit(config.min_letter_ratio) * visible),
    ]


def silver_schema(config: SilverConfig) -> pa.DataFrameSchema:
    return pa.DataFrameSchema(
        {
            "window_id": pa.Column(T.StringType(), pa.Check.str_length(20, 20), nullable=False),
            "text": pa.Column(
                T.StringType(),
                pa.Check.str_length(config.min_window_chars, config.max_window_bytes),
                nullable=False,
            ),
            "n_bytes": pa.Column(
                T.IntegerType(), pa.Check.in_range(1, config.max_window_bytes), nullable=False
            ),
            "doc_id": pa.Column(T.StringType(), nullable=False),
            "source": pa.Column(T.StringType(), nullable=False),
        },
        strict=False,
    )


class DataQualityError(RuntimeError):
    """A table failed its schema after the row-level rules ran."""


def validate_silver(silver: DataFrame, config: SilverConfig) -> DataFrame:
    """Validate silver with pandera; raise DataQualityError listing what failed."""
    validated = silver_schema(config).validate(silver)
    errors = validated.pandera.errors
    if errors:
        raise DataQualityError(f"silver failed validation: {dict(errors)}")
    return validated
