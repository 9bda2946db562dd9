"""`textrepair serve`: JSON logging and uvicorn around `create_app`."""

from __future__ import annotations

import logging
import sys

from textrepair.config import Settings


def configure_logging() -> None:
    """Access lines are already JSON: write them as they are, to stdout, once."""
    access = logging.getLogger("textrepair.access")
    if not access.handlers:
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter("%(message)s"))
        access.addHandler(handler)
    access.setLevel(logging.INFO)
    access.propagate = False


def run_server(settings: Settings) -> None:
    import uvicorn

    from textrepair.serve.app import create_app

    configure_logging()
    config = settings.serve
    uvicorn.run(
        create_app(settings),
        host=config.host,
        port=config.port,
        access_log=False,  # ours is structured and leaves text bodies out
        timeout_graceful_shutdown=30,
    )
