"""Configuration: params.yaml plus TEXTREPAIR_* environment variables, validated by pydantic.

Loading is explicit (`load_settings`), so importing this module reads no file and sets nothing.
"""

from __future__ import annotations

import os
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from textrepair.model.constants import PROMPT, SMOLLM2

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


def _default_mutation_profiles() -> dict[str, dict[str, dict[str, float]]]:
    """params.yaml's profiles: light, default and heavy mix all five types; each single-type
    profile is one type alone at 4 events per 100 characters."""
    # name: (rate, mean_length, reversal's mean_length, max_length)
    mixed = {
        "light": (0.4, 1.5, 2.5, 6),
        "default": (1.0, 2.0, 2.5, 8),
        "heavy": (2.0, 2.5, 3.0, 10),
    }
    profiles: dict[str, dict[str, dict[str, float]]] = {}
    for name, (rate, mean, reversal_mean, cap) in mixed.items():
        profiles[name] = {
            kind.value: {
                "rate": rate,
                "mean_length": reversal_mean if kind is MutationType.reversal else mean,
                "max_length": cap,
            }
            for kind in MutationType
        }
    for kind in MutationType:
        mean = 3.0 if kind is MutationType.reversal else 2.5
        profiles[kind.value] = {kind.value: {"rate": 4.0, "mean_length": mean, "max_length": 8}}
    return profiles


class StorageConfig(_Strict):
    root: str = Field("data/lake", description="Lake root: local path, abfss:// or s3a:// URI.")
    storage_options: dict[str, str] = Field(
        default_factory=dict, description="Credentials/options passed to delta-rs."
    )


class SparkConfig(_Strict):
    master: str = Field("local[*]", description="Spark master URL.")
    app_name: str = Field("textrepair", description="Spark application name.")
    delta_connector: bool = Field(
        False, description="Use Spark's Delta connector (jars on the classpath) for table I/O."
    )
    conf: dict[str, str] = Field(
        default_factory=lambda: {
            "spark.sql.shuffle.partitions": "8",
            "spark.driver.memory": "4g",
            "spark.ui.enabled": "false",
        },
        description="Extra Spark settings.",
    )


class CorpusConfig(_Strict):
    builtin: list[str] = Field(
        default_factory=lambda: ["kjv", "pydoc", "docstrings"],
        description="Built-in corpora (no network).",
    )
    paths: list[str] = Field(
        default_factory=lambda: ["data/landing"], description="Folders or files of your own text."
    )
    text_field: str = Field("text", description="Field/column holding text in jsonl/csv/parquet.")
    fallback_encoding: str = Field("cp1252", description="Decoding used when UTF-8 fails.")
    max_file_bytes: int = Field(200_000_000, gt=0, description="Larger files become read errors.")
    max_docstrings_per_package: int = Field(
        100, ge=0, description="`docstrings`: documents per package (0: all), so none dominates."
    )


class SilverConfig(_Strict):
    unicode_form: str = Field(
        "NFC", pattern="^(NFC|NFKC|NFD|NFKD)$", description="Unicode normalisation of silver."
    )
    max_window_bytes: int = Field(192, ge=16, description="Maximum window length in UTF-8 bytes.")
    min_window_chars: int = Field(8, ge=1, description="Shorter windows are quarantined.")
    max_line_bytes: int = Field(20_000, ge=64, description="Longer single lines are quarantined.")
    min_letter_ratio: float = Field(
        0.5, ge=0, le=1, description="Windows with fewer letters are quarantined."
    )


class GoldConfig(_Strict):
    profile: str = Field("default", description="Mutation profile of the main gold rows.")
    clean_fraction: float = Field(0.1, ge=0, le=1, description="Share of rows left undamaged.")
    validation_fraction: float = Field(0.05, ge=0, lt=1, description="Share of windows.")
    test_fraction: float = Field(0.05, ge=0, lt=1, description="Share of windows.")
    single_type_profiles: list[str] = Field(
        default_factory=lambda: [t.value for t in MutationType],
        description="Profiles of the single-type test sets (built from the test split).",
    )
    max_windows_per_source: dict[str, int] = Field(
        default_factory=lambda: {"kjv": 20_000, "docstrings": 20_000},
        description="Balance: windows kept per source (a seeded sample); sources not named: all.",
    )

    @model_validator(mode="after")
    def _fractions_and_caps_are_valid(self) -> GoldConfig:
        if self.validation_fraction + self.test_fraction >= 1:
            raise ValueError("validation_fraction + test_fraction must be below 1")
        negative = {k: v for k, v in self.max_windows_per_source.items() if v < 0}
        if negative:
            raise ValueError(f"max_windows_per_source must not be negative: {negative}")
        return self


Family = Literal["byt5", "causal_lora", "edit"]
Size = Literal["tiny", "small", "base"]
InferenceDtype = Literal["float32", "bfloat16", "auto"]


class LoraSettings(_Strict):
    r: int = Field(16, ge=1, description="LoRA rank.")
    alpha: int = Field(32, ge=1, description="LoRA scaling numerator (scale = alpha / r).")
    dropout: float = Field(0.05, ge=0, lt=1, description="Dropout on the LoRA path.")
    target_modules: list[str] = Field(
        default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj", "up_proj", "down_proj"]
    )


class EditSettings(_Strict):
    """The `edit` family: a character encoder that tags damage and fills masks (model/edit.py)."""

    max_gap: int = Field(
        10, ge=1, le=64, description="Longest deletion the gap head can restore (profiles' cap)."
    )
    fill_rounds: int = Field(
        2, ge=1, description="Mask-filling rounds: each fills the most confident share first."
    )
    refine_rounds: int = Field(
        0, ge=0, description="Re-tag the repaired window this many more times while it changes."
    )
    keep_threshold: float = Field(
        0.5,
        gt=0,
        le=1,
        description="A character is changed when P(keep) falls below this: higher finds more "
        "damage and breaks more clean text (tuned on gold/validation).",
    )
    gap_threshold: float = Field(
        0.5, gt=0, le=1, description="A deletion gap is filled when P(no gap) falls below this."
    )
    profile_mix: dict[str, float] = Field(
        default_factory=lambda: {
            "default": 4.0,
            "light": 1.5,
            "heavy": 1.5,
            "deletion": 0.6,
            "substitution": 0.6,
            "insertion": 0.6,
            "duplication": 0.6,
            "reversal": 0.6,
        },
        description="Relative weights of the mutation profiles drawn for training windows.",
    )
    extra_mask_rate: float = Field(
        0.1, ge=0, lt=1, description="Extra share of characters masked for the fill head."
    )
    loss_weights: dict[str, float] = Field(
        default_factory=lambda: {"action": 1.0, "gap": 1.0, "fill": 1.0},
        description="Weights of the action, gap and fill losses.",
    )
    label_smoothing: float = Field(0.0, ge=0, lt=1, description="Label smoothing of all heads.")


class ModelConfig(_Strict):
    """Which model to build, and the decoding knobs saved with it."""

    family: Family = Field("causal_lora", description="byt5, causal_lora or edit.")
    size: Size = Field("small", description="tiny (tests), small or base.")
    init_from: str | None = Field(
        None,
        description="Local path or hub id of starting weights; for causal_lora, 'smollm2' (the "
        "default for sizes other than tiny), 'gemma3-270m' or any causal LM. None with byt5: "
        "from scratch.",
    )
    dropout: float = Field(0.1, ge=0, lt=1, description="Dropout of a byte-T5 built from scratch.")
    lora: LoraSettings = LoraSettings()
    edit: EditSettings = EditSettings()
    prompt: str = Field(PROMPT, description="causal_lora prompt; must contain {corrupted}.")
    max_new_tokens_ratio: float = Field(
        1.5, gt=0, description="Output budget per input token (plus 8): bounds runaway output."
    )
    draft_tokens: int = Field(16, ge=1, description="Tokens proposed per copy-aware step.")
    guard_span_chars: int = Field(
        5,
        ge=0,
        description="Undo any change of a window longer than this many characters on either side "
        "(changes fewer than guard_join_chars apart count as one): damage comes in short spans, "
        "and a long rewrite is more often a new sentence than a repair. 0 keeps every change.",
    )
    guard_join_chars: int = Field(
        2, ge=0, description="Changes at most this many unchanged characters apart are one change."
    )
    dtype: InferenceDtype = Field(
        "auto",
        description="Weights' type when the model is loaded for inference. bfloat16 reads half "
        "the bytes per token: ~1.6x faster decoding on CPUs with AVX512-BF16 or AMX, same accuracy "
        "on validation (README), but slow on CPUs without them. auto: bfloat16 where the CPU has "
        "them (or on a GPU), else float32.",
    )

    def base_model(self) -> str | None:
        """The causal base used: init_from, else SmolLM2 unless this is the tiny test size."""
        if self.family != "causal_lora" or self.init_from or self.size == "tiny":
            return self.init_from
        return SMOLLM2


class TrainConfig(_Strict):
    """Training knobs (params.yaml section `train`)."""

    max_minutes: float = Field(70.0, gt=0, description="Wall-clock budget; training stops after.")
    max_steps: int = Field(650, ge=0, description="Step budget; 0 means no step limit.")
    epochs: float = Field(3.0, gt=0, description="Passes over gold/train (budgets stop first).")
    batch_size: int = Field(8, ge=1, description="Windows per optimiser step.")
    learning_rate: float = Field(4e-4, gt=0, description="Peak learning rate (linear decay).")
    warmup_ratio: float = Field(0.05, ge=0, lt=1)
    weight_decay: float = Field(0.01, ge=0)
    eval_steps: int = Field(100, ge=1, description="Evaluate and checkpoint every N steps.")
    eval_rows: int = Field(100, ge=1, description="Validation rows used at each evaluation.")
    early_stopping_patience: int = Field(3, ge=1, description="Evaluations without improvement.")
    max_train_rows: int = Field(0, ge=0, description="Cap on training rows; 0 means all.")
    seed: int = Field(1234, description="Seed of initialisation and data order.")
    threads: int = Field(1, ge=0, description="torch threads; 0 keeps torch's default.")
    precision: InferenceDtype = Field(
        "auto",
        description="bfloat16: mixed precision (autocast; weights and optimiser stay float32), "
        "~1.3x faster steps for SmolLM2 + LoRA on a CPU with AVX512-BF16. auto: bfloat16 where "
        "the hardware has it (as `model.dtype`), else float32.",
    )
    damaged_copies: int = Field(
        0,
        ge=0,
        description="0 trains on gold's own pairs. N > 0 trains instead on N fresh damaged copies "
        "of each clean gold/train window, drawn with the gold profile (and clean fraction), "
        "seeded by row and copy number: new damage for a longer or warm-started run.",
    )
    warm_start: str | None = Field(
        None,
        description="causal_lora: a model directory with a LoRA adapter (e.g. the release) whose "
        "weights start the new adapter; edit: a saved edit model (weights and vocabulary) to "
        "continue from, e.g. in a later session. Both under a fresh learning-rate schedule.",
    )
    release: str | None = Field(
        "models/textrepair-hybrid",
        description="A committed release model directory (see models/): the train stage adopts "
        "it instead of training. null (or `textrepair train --from-scratch`) trains.",
    )


class EvaluateConfig(_Strict):
    max_rows_per_set: int = Field(
        100, ge=0, description="Test rows per profile evaluated (0: all); bounds evaluation time."
    )
    n_resamples: int = Field(1000, ge=10, description="Bootstrap resamples for the CIs.")
    batch_size: int = Field(32, ge=1, description="Windows per model call.")


class _Range(_Strict):
    low: float = Field(ge=0)
    high: float = Field(ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> _Range:
        if self.low > self.high:
            raise ValueError(f"range low {self.low} is above high {self.high}")
        return self


class Byt5Space(_Strict):
    """What a byt5 trial samples. size and dropout only matter when training from scratch."""

    learning_rate: _Range = _Range(low=1e-4, high=3e-3)
    batch_size: list[int] = Field(default_factory=lambda: [8, 16, 32], min_length=1)
    dropout: _Range = _Range(low=0.0, high=0.2)
    size: list[Size] = Field(default_factory=lambda: ["tiny", "small"], min_length=1)


class CausalLoraSpace(_Strict):
    """What a causal_lora trial samples."""

    learning_rate: _Range = _Range(low=5e-5, high=1e-3)
    lora_r: list[int] = Field(default_factory=lambda: [4, 8, 16], min_length=1)


class EditSpace(_Strict):
    """What an edit trial samples."""

    learning_rate: _Range = _Range(low=3e-4, high=3e-3)
    batch_size: list[int] = Field(default_factory=lambda: [16, 32], min_length=1)
    dropout: _Range = _Range(low=0.0, high=0.15)


class TuneConfig(_Strict):
    """Tuning knobs (params.yaml section `tune`)."""

    n_trials: int = Field(8, ge=1, description="Optuna trials.")
    trial_minutes: float = Field(2.0, gt=0, description="Wall-clock budget of each trial.")
    trial_max_steps: int = Field(0, ge=0, description="Step budget of each trial; 0: none.")
    seed: int = Field(1234, description="Seed of the TPE sampler.")
    startup_trials: int = Field(
        3, ge=1, description="Random trials before TPE models the results (Optuna's default is 10)."
    )
    byt5: Byt5Space = Byt5Space()
    causal_lora: CausalLoraSpace = CausalLoraSpace()
    edit: EditSpace = EditSpace()

    @model_validator(mode="after")
    def _positive_learning_rates(self) -> TuneConfig:
        # Learning rates are sampled on a log scale: zero is not allowed.
        lows = (self.byt5.learning_rate.low, self.causal_lora.learning_rate.low)
        if min(*lows, self.edit.learning_rate.low) <= 0:
            raise ValueError("learning_rate ranges must be above 0 (log-uniform)")
        return self


class MlflowConfig(_Strict):
    tracking_uri: str = Field(
        "sqlite:///mlflow.db", description="Any MLflow tracking URI (http://..., databricks, ...)."
    )
    artifact_root: str = Field(
        "mlartifacts",
        description="Artifact location of new experiments (path or URI); '' lets the server pick.",
    )
    experiment: str = Field("textrepair", description="MLflow experiment of all runs.")


class RegistryConfig(_Strict):
    model_name: str = Field("textrepair", description="Registered model name.")
    cer_margin: float = Field(
        0.02, ge=0, lt=1, description="Relative CER improvement a challenger needs to win."
    )
    max_broken_rate: float = Field(
        0.005, ge=0, le=1, description="Highest broken rate (changes to clean text) allowed."
    )


class MonitorConfig(_Strict):
    """The prediction log and `textrepair monitor` (params.yaml section `monitor`)."""

    log_table: str = Field("prediction_log", description="Prediction log table under the lake.")
    flush_rows: int = Field(100, ge=1, description="The server's log writer appends every N rows.")
    flush_seconds: float = Field(
        5.0, gt=0, description="...or when its oldest buffered row is this old."
    )
    max_buffer_rows: int = Field(
        10_000, ge=1, description="Rows held in memory while the lake is slow; more are spilled."
    )
    spill_file: str = Field(
        "data/prediction_log.spill.jsonl",
        description="Local file (one per server process) for rows the lake could not take; "
        "replayed exactly once when it takes commits again.",
    )
    retry_min_seconds: float = Field(0.5, gt=0, description="First back-off after a failed commit.")
    retry_max_seconds: float = Field(30.0, gt=0, description="Longest back-off (it doubles).")
    window_rows: int = Field(5000, ge=0, description="Compare the last N logged rows (0: all).")
    window_hours: float = Field(
        0, ge=0, description="Compare only rows of the last H hours (0: no time limit)."
    )
    min_rows: int = Field(
        200,
        ge=1,
        description="Fewer rows in the window are too few to judge drift: PSI over 10 bins is "
        "noisy below a few hundred rows (154 in-distribution rows read PSI 0.31).",
    )
    profile_rows: int = Field(
        20000, ge=100, description="Training rows sampled for the reference profile."
    )
    reference_rows: int = Field(
        200,
        ge=0,
        description="gold/validation rows (main profile) the champion repairs at each run: its "
        "damage_rate and unchanged shares are the reference for the log's, which measure the "
        "model, not the true damage. 0 (or no champion): gold's true damage and clean rows.",
    )
    bins: int = Field(10, ge=2, le=100, description="Quantile bins of the PSI.")
    psi_threshold: float = Field(
        0.2, gt=0, description="A feature drifts when its PSI exceeds this (0.1-0.25 is common)."
    )
    ks_threshold: float = Field(
        0.1, gt=0, le=1, description="...or its KS statistic exceeds this at p < ks_alpha."
    )
    ks_alpha: float = Field(0.01, gt=0, lt=1)
    max_drifted_features: int = Field(
        0, ge=0, description="Retraining is recommended when more features than this drift."
    )


class UiConfig(_Strict):
    """`textrepair ui`, the Streamlit app (params.yaml section `ui`)."""

    api_url: str | None = Field(
        None, description="Base URL of the textrepair API; None loads the model in the app."
    )
    model: str | None = Field(
        None, description="Model directory or URI when no API is used (None: the champion)."
    )
    timeout_seconds: float = Field(30.0, gt=0, description="Timeout of one API call.")
    sample_rows: int = Field(200, ge=1, description="gold/test rows offered as samples.")
    log_predictions: bool = Field(
        True, description="Append the app's own predictions (path 'ui') to the prediction log."
    )
    symspell_dictionary: str | None = Field(
        None, description="Unigram frequency file of the SymSpell tab (None: symspellpy's own)."
    )
    address: str = Field("127.0.0.1", description="Address `textrepair ui` listens on.")
    port: int = Field(8501, ge=1, le=65535)


class ServeConfig(_Strict):
    """The HTTP service (`textrepair serve`, params.yaml section `serve`)."""

    host: str = Field("127.0.0.1", description="Bind address; 0.0.0.0 in a container.")
    port: int = Field(8000, ge=1, le=65535)
    model: str | None = Field(
        None, description="Model directory or MLflow URI; None: models:/<model_name>@champion."
    )
    micro_batching: bool = Field(True, description="Group concurrent requests into model calls.")
    max_batch_size: int = Field(32, ge=1, description="Most texts per model call.")
    max_wait_ms: float = Field(10.0, ge=0, le=1000, description="How long a batch waits to fill.")
    max_queue: int = Field(1024, ge=1, description="Queued requests before answering 429.")
    max_queue_chars: int = Field(
        512_000, ge=1, description="Queued characters (all texts) before answering 429."
    )
    request_timeout_seconds: float = Field(
        30.0, gt=0, description="A request unanswered by then gets 503; its queued work is dropped."
    )
    # One request's worst case: max_texts texts of max_chars characters (within max_body_bytes),
    # decoded with max_beams beams, and never longer than request_timeout_seconds.
    max_texts: int = Field(64, ge=1, description="Most texts in one request.")
    max_chars: int = Field(4000, ge=1, description="Most characters in one text.")
    max_body_bytes: int = Field(1_000_000, ge=64, description="Largest request body accepted.")
    max_beams: int = Field(4, ge=1, description="Highest num_beams a request may ask for.")
    api_key: SecretStr | None = Field(
        None, description="If set, /v1/repair needs it in the X-API-Key header."
    )
    api_key_file: str | None = Field(
        None, description="Read the API key from this file if it exists (a mounted secret)."
    )
    admin_api_key: SecretStr | None = Field(
        None, description="/admin/reload needs this key (X-API-Key); unset: admin is disabled."
    )
    admin_api_key_file: str | None = Field(
        None, description="Read the admin key from this file if it exists (a mounted secret)."
    )
    allow_anonymous: bool = Field(
        False,
        description="Serve /v1/repair without an API key on a non-loopback address; unset, "
        "`textrepair serve` refuses to start there without serve.api_key(_file).",
    )
    max_request_id_chars: int = Field(
        128, ge=8, description="A longer X-Request-ID header is cut to this length."
    )
    log_bodies: bool = Field(False, description="Put texts in the access log (off: lengths only).")
    reload_interval_s: float = Field(
        0, ge=0, description="Poll the registry alias this often and reload on change; 0: never."
    )
    load_retry_s: float = Field(10, gt=0, description="Retry period while the first load fails.")
    torch_threads: int = Field(0, ge=0, description="torch threads of the model; 0: default.")
    log_predictions: bool = Field(
        True, description="Append every answer to the prediction log (lengths and rates, no text)."
    )
    drift_report: str = Field(
        "reports/monitor.json", description="`textrepair monitor` report behind the drift gauges."
    )

    @model_validator(mode="after")
    def _one_request_fits_the_queue(self) -> ServeConfig:
        if self.max_queue_chars < self.max_texts * self.max_chars:
            raise ValueError("serve.max_queue_chars must be at least max_texts * max_chars")
        return self


class BatchConfig(_Strict):
    """`textrepair batch`: score a table or files with the champion (params.yaml `batch`)."""

    output: str = Field(
        "predictions", description="Predictions table: a name under storage.root, or a path/URI."
    )
    id_column: str = "id"
    text_column: str = "text"
    batch_size: int = Field(16, ge=1, description="Windows per model call (Repairer batch).")
    rows_per_arrow_batch: int = Field(
        512, ge=1, description="Rows handed to a Python worker at a time (Arrow batch)."
    )
    partitions: int = Field(0, ge=0, description="Input partitions; 0: 2 per Spark core.")
    torch_threads: int = Field(1, ge=0, description="torch threads per Python worker; 0: default.")


class StreamConfig(_Strict):
    """`textrepair stream`: score JSON lines dropped in a landing folder (params.yaml `stream`)."""

    landing: str = Field("data/stream/landing", description="Folder the stream watches.")
    table: str = Field(
        "stream_predictions", description="Predictions table: a name under storage.root or a path."
    )
    quarantine_table: str = Field(
        "stream_quarantine", description="Malformed lines: a name under storage.root or a path."
    )
    checkpoint: str = Field("data/stream/checkpoint", description="Spark checkpoint folder.")
    max_files_per_trigger: int = Field(4, ge=1, description="Files per micro-batch.")
    trigger_interval: str = Field("5 seconds", description="Processing-time trigger (continuous).")
    max_text_chars: int = Field(10_000, ge=1, description="Longer texts are quarantined.")
    metrics_file: str = Field(
        "reports/stream_metrics.json", description="Stream metrics (JSON; a .prom file beside it)."
    )
    rows_per_file: int = Field(10, ge=1, description="`stream produce`: rows per landing file.")
    rate: float = Field(5.0, gt=0, description="`stream produce`: rows per second.")


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
    mutation_profiles: dict[str, dict[MutationType, MutationSpec]] = Field(
        default_factory=_default_mutation_profiles
    )
    model: ModelConfig = ModelConfig()
    train: TrainConfig = TrainConfig()
    train_output_dir: str = Field("artifacts/train", description="Checkpoints and the model.")
    evaluate: EvaluateConfig = EvaluateConfig()
    tune: TuneConfig = TuneConfig()
    mlflow: MlflowConfig = MlflowConfig()
    registry: RegistryConfig = RegistryConfig()
    monitor: MonitorConfig = MonitorConfig()
    ui: UiConfig = UiConfig()
    serve: ServeConfig = ServeConfig()
    batch: BatchConfig = BatchConfig()
    stream: StreamConfig = StreamConfig()

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
