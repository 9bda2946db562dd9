"""The `textrepair` command line: one sub-command per stage."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated

import typer

from textrepair.config import Settings, load_settings

app = typer.Typer(
    help="Restore text damaged by DNA-like mutations: data pipeline, model and serving.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)

ParamsOption = Annotated[
    Path | None,
    typer.Option(
        "--params",
        help="Parameters file (default: $TEXTREPAIR_PARAMS or ./params.yaml).",
        dir_okay=False,
    ),
]


def _settings(params: Path | None) -> Settings:
    try:
        return load_settings(params)
    except ValueError as error:  # pydantic ValidationError is a ValueError
        raise typer.BadParameter(str(error), param_hint="params") from error


@app.callback()
def main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
) -> None:
    """textrepair: every stage of the lifecycle is a sub-command; add --help to any of them."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


@app.command()
def mutate(
    text: Annotated[str, typer.Argument(help="Clean text to damage.")],
    profile: Annotated[str, typer.Option(help="Mutation profile from params.yaml.")] = "default",
    seed: Annotated[int, typer.Option(help="Random seed; same seed, same damage.")] = 0,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the corrupted text and the event records.")
    ] = False,
    params: ParamsOption = None,
) -> None:
    """Damage TEXT with a mutation profile and print the corrupted text."""
    from textrepair.mutations import mutate_text

    settings = _settings(params)
    if profile not in settings.mutation_profiles:
        known = ", ".join(sorted(settings.mutation_profiles))
        raise typer.BadParameter(
            f"unknown profile {profile!r}; known: {known}", param_hint="--profile"
        )
    corrupted, events = mutate_text(text, settings.mutation_profiles[profile], seed=seed)
    if as_json:
        record = {
            "clean": text,
            "corrupted": corrupted,
            "profile": profile,
            "seed": seed,
            "mutations": [e.to_dict() for e in events],
        }
        typer.echo(json.dumps(record, ensure_ascii=False, indent=2))
    else:
        typer.echo(corrupted)
