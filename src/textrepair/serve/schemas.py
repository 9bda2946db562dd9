"""Request and response bodies. Limits come from configuration, so the request model is built
per app: the OpenAPI document then states the real limits (maxItems, maxLength, maximum)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, create_model

from textrepair.config import ServeConfig


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


def request_model(config: ServeConfig) -> type[_Body]:
    """`{"texts": [...], "options": {"num_beams": n}}` with this service's limits."""
    options = create_model(
        "DecodingOptions",
        __base__=_Body,
        __doc__="Decoding knobs a request may change; omitted ones keep the model's defaults.",
        num_beams=(
            int | None,
            Field(None, ge=1, le=config.max_beams, description="1: greedy; more: beam search."),
        ),
    )
    text = Annotated[str, Field(max_length=config.max_chars), AfterValidator(_encodable)]
    return create_model(
        "RepairRequest",
        __base__=_Body,
        texts=(
            list[text],
            Field(
                min_length=1,
                max_length=config.max_texts,
                description=f"1 to {config.max_texts} texts of at most {config.max_chars} "
                "characters each.",
            ),
        ),
        options=(options | None, None),
    )


def _encodable(text: str) -> str:
    # JSON escapes can smuggle in lone surrogates (\ud800), which no UTF-8 answer can carry.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise ValueError(f"not valid Unicode at character {error.start}") from None
    return text


class EditOut(BaseModel):
    op: str = Field(description="replace, delete or insert")
    start: int = Field(description="Start of the changed span in the input text.")
    end: int = Field(description="End (exclusive) of the changed span in the input text.")
    replacement: str


class ResultOut(BaseModel):
    text: str = Field(description="The repaired text.")
    edits: list[EditOut]
    changed: bool


class ModelOut(BaseModel):
    name: str
    version: str
    alias: str | None = None
    source: str


class RepairResponse(BaseModel):
    model: ModelOut
    results: list[ResultOut] = Field(description="One result per input text, in input order.")


class ErrorBody(BaseModel):
    code: str = Field(description="Machine-readable reason, e.g. too_many_texts, invalid_json.")
    message: str
    detail: Any = None


class ErrorResponse(BaseModel):
    error: ErrorBody


class ReadyResponse(BaseModel):
    ready: bool
    model: ModelOut | None = None
    last_error: str | None = None


class ReloadResponse(BaseModel):
    reloaded: bool
    model: ModelOut | None = None
    error: str | None = None
