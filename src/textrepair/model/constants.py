"""Model constants the settings need as defaults: kept free of heavy imports, so that
`textrepair.config` stays cheap to import."""

from __future__ import annotations

PROMPT = "Repair: {corrupted}\nFixed: "
# Aliases of causal bases fetched offline from PyPI (see model/bases.py).
SMOLLM2 = "smollm2"  # SmolLM2-135M-Instruct, the default
GEMMA3 = "gemma3-270m"  # Gemma 3 270M
