"""Configuration: params.yaml plus TEXTREPAIR_* environment variables, validated by pydantic.

Loading is explicit (`load_settings`), so importing this module reads no file and sets nothing.
"""

from __future__ import annotations

import os
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

PARAMS_ENV = "TEXTREPAIR_PARAMS"
DEFAULT_PARAMS = Path("params.yaml")


class MutationType(StrEnum):
    deletion = "deletion"
    substitution = "substitution"
    insertion = "insertion"
    duplication = "duplication"
    reversal = "reversal"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MutationSpec(_Strict):
    """One mutation type in a profile."""

    rate: float = Field(ge=0, le=20, description="Expected events per 100 characters.")
    mean_length: float = Field(ge=1, description="Mean of the geometric span length.")
    max_length: int = Field(ge=1, le=256, description="Cap on the span length.")


class StorageConfig(_Strict):
    root: str = Field("data/lake", description="Lake root: local path, abfss:// or s3a:// URI.")
    storage_options: dict[str, str] = Field(
        default_factory=dict, description="Credentials/options passed to delta-rs."
    )


class SparkConfig(_Strict):
    master: str = Field("local[*]", description="Spark master URL.")
    app_name: str = "textrepair"
    delta_connector: bool = Field(
        False, description="Use Spark's Delta connector (jars on the classpath) for table I/O."
    )
    conf: dict[str, str] = Field(default_factory=dict, description="Extra Spark settings.")


class CorpusConfig(_Strict):
    builtin: list[str] = Field(default_factory=lambda: ["kjv", "pydoc"])
    paths: list[str] = Field(default_factory=lambda: ["data/landing"])
    text_field: str = Field("text", description="Field/column holding text in jsonl/csv/parquet.")
    fallback_encoding: str = Field("cp1252", description="Decoding used when UTF-8 fails.")
    max_file_bytes: int = Field(200_000_000, gt=0)


class SilverConfig(_Strict):
    unicode_form: str = Field("NFC", pattern="^(NFC|NFKC|NFD|NFKD)$")
    max_window_bytes: int = Field(192, ge=16, description="Maximum window length in UTF-8 bytes.")
    min_window_chars: int = Field(8, ge=1)
    max_line_bytes: int = Field(20_000, ge=64, description="Longer single lines are quarantined.")
    min_letter_ratio: float = Field(0.5, ge=0, le=1)


class GoldConfig(_Strict):
    profile: str = "default"
    clean_fraction: float = Field(0.1, ge=0, le=1)
    validation_fraction: float = Field(0.05, ge=0, lt=1)
    test_fraction: float = Field(0.05, ge=0, lt=1)
    single_type_profiles: list[str] = Field(default_factory=lambda: [t.value for t in MutationType])

    @model_validator(mode="after")
    def _fractions_leave_training_data(self) -> GoldConfig:
        if self.validation_fraction + self.test_fraction >= 1:
            raise ValueError("validation_fraction + test_fraction must be below 1")
        return self


class MlflowConfig(_Strict):
    tracking_uri: str = Field(
        "sqlite:///mlflow.db", description="Any MLflow tracking URI (http://..., databricks, ...)."
    )
    artifact_root: str = Field(
        "mlartifacts", description="Artifact location for new experiments (path or URI)."
    )
    experiment: str = "textrepair"


class RegistryConfig(_Strict):
    model_name: str = "textrepair"
    cer_margin: float = Field(
        0.02, ge=0, lt=1, description="Relative CER improvement a challenger needs to win."
    )
    max_broken_rate: float = Field(
        0.005, ge=0, le=1, description="Highest broken rate (changes to clean text) allowed."
    )


class Settings(BaseSettings):
    """The whole configuration. Sections mirror params.yaml."""

    model_config = SettingsConfigDict(
        env_prefix="TEXTREPAIR_", env_nested_delimiter="__", extra="forbid", frozen=True
    )

    seed: int = 1234
    storage: StorageConfig = StorageConfig()
    spark: SparkConfig = SparkConfig()
    corpus: CorpusConfig = CorpusConfig()
    silver: SilverConfig = SilverConfig()
    gold: GoldConfig = GoldConfig()
    mutation_profiles: dict[str, dict[MutationType, MutationSpec]] = Field(default_factory=dict)
    mlflow: MlflowConfig = MlflowConfig()
    registry: RegistryConfig = RegistryConfig()

    @model_validator(mode="after")
    def _profiles_exist(self) -> Settings:
        names = [self.gold.profile, *self.gold.single_type_profiles]
        missing = [n for n in names if n not in self.mutation_profiles]
        if missing:
            known = ", ".join(sorted(self.mutation_profiles)) or "none"
            raise ValueError(f"unknown mutation profile(s) {missing}; known: {known}")
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Environment beats the file: init_settings carries params.yaml (see load_settings).
        return env_settings, init_settings

    def lake_path(self, table: str) -> str:
        """URI of a table under the lake root, e.g. lake_path('bronze')."""
        return f"{self.storage.root.rstrip('/')}/{table}"


def read_params(path: Path | None = None) -> dict[str, Any]:
    """Read params.yaml (or $TEXTREPAIR_PARAMS) into a dict; missing file means defaults."""
    path = path or Path(os.environ.get(PARAMS_ENV, DEFAULT_PARAMS))
    if not path.exists():
        return {}
    with path.open(encoding="utf-8") as handle:
        data = yaml.safe_load(handle) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path} must hold a mapping at the top level")
    return data


def load_settings(path: Path | None = None) -> Settings:
    """Settings from params.yaml (or $TEXTREPAIR_PARAMS), overridden by TEXTREPAIR_* variables."""
    return Settings(**read_params(path))
