"""`textrepair serve`: JSON logging and uvicorn around `create_app`."""

from __future__ import annotations

import ipaddress
import logging
import sys

from textrepair.config import ServeConfig, Settings


class AnonymousServeError(RuntimeError):
    """The service would answer anyone on the network: no API key and no serve.allow_anonymous."""


def configure_logging() -> None:
    """Access lines are already JSON: write them as they are, to stdout, once."""
    access = logging.getLogger("textrepair.access")
    if not access.handlers:
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter("%(message)s"))
        access.addHandler(handler)
    access.setLevel(logging.INFO)
    access.propagate = False


def check_anonymous(config: ServeConfig) -> None:
    """Refuse to serve without an API key where others can connect, unless allowed explicitly.

    A loopback address is reachable from this machine only, so `textrepair serve` on a laptop
    needs no key; a container binds 0.0.0.0, and a pod whose key Secret is missing or empty
    must crash, not serve anyone.
    """
    from textrepair.serve.app import api_key

    if config.allow_anonymous or api_key(config) is not None or _is_loopback(config.host):
        return
    raise AnonymousServeError(
        f"no API key for {config.host}:{config.port}: set serve.api_key or serve.api_key_file "
        "(TEXTREPAIR_SERVE__API_KEY_FILE), or serve.allow_anonymous: true to serve without one"
    )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: it may resolve to anything
        return False


def run_server(settings: Settings) -> None:
    """Check the key policy, then serve `create_app(settings)` with uvicorn until stopped."""
    import uvicorn

    from textrepair.serve.app import create_app

    config = settings.serve
    check_anonymous(config)
    configure_logging()
    uvicorn.run(
        create_app(settings),
        host=config.host,
        port=config.port,
        access_log=False,  # ours is structured and leaves text bodies out
        timeout_graceful_shutdown=30,
    )
