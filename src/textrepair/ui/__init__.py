"""The Streamlit app (`textrepair ui`): damage a text, repair it, see what changed.

`app.py` is the Streamlit script (layout only); `backend.py` chooses the API or a local model and
reads samples and the registry; `highlight.py` renders colour-coded spans.
"""

from __future__ import annotations

from pathlib import Path

APP_SCRIPT = Path(__file__).with_name("app.py")
