"""The textrepair app. Run it with `textrepair ui` (or `streamlit run` on this file).

Configuration comes from params.yaml and TEXTREPAIR_* variables like everywhere else:
`TEXTREPAIR_UI__API_URL` sends repairs to the API, `TEXTREPAIR_UI__MODEL` loads a model
directory or URI, and neither loads `models:/<registry.model_name>@champion`.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from textrepair.config import MutationType, Settings, load_settings
from textrepair.lifecycle.evaluation import cer
from textrepair.model.repairer import RepairResult, compute_edits
from textrepair.model.source import ModelInfo
from textrepair.ui import backend as bk
from textrepair.ui import highlight as hl

DEFAULT_TEXT = "In the beginning God created the heaven and the earth."
SAMPLE, PASTE = "Sample from gold/test", "Paste your own text"


# --------------------------------------------------------------------------- cached resources
# Leading underscores keep arguments out of Streamlit's cache key; `key` stands for them.
@st.cache_resource(show_spinner="Loading the model…")
def _backend(_settings: Settings, key: str) -> bk.ApiBackend | bk.LocalBackend:
    return bk.make_backend(_settings)


@st.cache_data(max_entries=256, show_spinner="Repairing…")
def _repair(_service: Any, key: str, text: str) -> tuple[RepairResult, ModelInfo]:
    # Cached so that reruns (every widget change) neither recompute nor log a prediction twice.
    results, info = _service.repair([text])
    return results[0], info


@st.cache_data(ttl=300, show_spinner="Reading gold/test samples…")  # gold may come later
def _samples(_settings: Settings, key: str) -> list[str]:
    try:
        return bk.gold_samples(_settings)
    except Exception:  # no gold table yet: the app still works on pasted text
        return []


@st.cache_resource(show_spinner="Loading SymSpell's dictionary…")
def _symspell(dictionary: str | None) -> Any:
    from pathlib import Path

    from textrepair.lifecycle.baselines import SymSpellBaseline

    return SymSpellBaseline(dictionary=Path(dictionary) if dictionary else None)


@st.cache_data(ttl=30, show_spinner="Reading the registry…")
def _registry(_settings: Settings, key: str) -> list[dict[str, Any]]:
    return bk.registry_versions(_settings)


# ----------------------------------------------------------------------------------- widgets
def _damage_controls(settings: Settings) -> tuple[dict, int]:
    st.sidebar.header("Damage")
    st.sidebar.caption("Mutation rates: expected events per 100 characters.")
    base = settings.mutation_profiles.get(settings.gold.profile, {})
    rates = {}
    for kind in MutationType:
        default = base[kind].rate if kind in base else 0.0
        rates[kind.value] = st.sidebar.slider(
            kind.value, 0.0, 10.0, float(default), 0.1, key=f"rate_{kind.value}"
        )
    seed = int(st.sidebar.number_input("Seed", value=settings.seed, step=1, key="seed"))
    return bk.custom_profile(rates, base), seed


def _choose_text(settings: Settings, key: str) -> str:
    samples = _samples(settings, key)
    options = [SAMPLE, PASTE] if samples else [PASTE]
    source = st.radio("Text", options, horizontal=True, key="source")
    if source == SAMPLE:
        index = st.selectbox(
            "gold/test sample",
            range(len(samples)),
            format_func=lambda i: f"{i + 1}. {samples[i][:90]}",
            key="sample",
        )
        return samples[index]
    if not samples:
        st.caption("No gold table found: paste a text (or build the data with `dvc repro`).")
    return st.text_area("Clean text to damage", DEFAULT_TEXT, key="pasted")


# ------------------------------------------------------------------------------------- views
def _panel(title: str, body: str) -> None:
    st.markdown(f"**{title}**")
    st.markdown(body, unsafe_allow_html=True)


def _repair_view(clean: str, corrupted: str, events: list, result: RepairResult, info: Any) -> None:
    original, damaged, repaired = st.columns(3)
    with original:
        _panel("Original", hl.render(clean, hl.mutation_spans(events, corrupted=False)))
    with damaged:
        _panel("Corrupted", hl.render(corrupted, hl.mutation_spans(events, corrupted=True)))
    with repaired:
        _panel("Repaired", hl.render(result.text, hl.edit_spans(corrupted, result.edits)))
    st.markdown(hl.legend(), unsafe_allow_html=True)
    before, after, version = st.columns(3)
    before.metric("CER before", f"{cer(clean, corrupted):.1%}")
    after.metric("CER after", f"{cer(clean, result.text):.1%}")
    version.metric("Model version", info.version)
    st.caption(f"Model: {info.label()}; {len(events)} mutation(s), {len(result.edits)} edit(s).")


def _compare_view(clean: str, corrupted: str, result: RepairResult, settings: Settings) -> None:
    st.markdown("The same corrupted text, repaired by the model and by the SymSpell baseline.")
    symspell_text = _symspell(settings.ui.symspell_dictionary)([corrupted])[0]
    systems = {"Model": result.text, "SymSpell": symspell_text}
    for column, (name, text) in zip(st.columns(2), systems.items(), strict=True):
        with column:
            column.metric(f"{name} CER", f"{cer(clean, text):.1%}")
            _panel(name, hl.render(text, hl.edit_spans(corrupted, compute_edits(corrupted, text))))
    st.dataframe(
        [
            {"system": name, "CER": round(cer(clean, text), 4), "exact": text == clean}
            for name, text in {"identity": corrupted, **systems}.items()
        ],
        hide_index=True,
    )


def _registry_view(settings: Settings, key: str) -> None:
    st.markdown(
        f"Versions of `{settings.registry.model_name}` at `{settings.mlflow.tracking_uri}`."
    )
    try:
        rows = _registry(settings, key)
    except Exception as error:  # unreachable tracking server, bad URI...
        st.warning(f"Cannot read the registry: {error}")
        return
    if rows:
        st.dataframe(rows, hide_index=True)
    else:
        st.info("No registered versions yet: `textrepair register` adds one.")


# -------------------------------------------------------------------------------------- page
def main() -> None:
    st.set_page_config(page_title="textrepair", layout="wide")
    settings = load_settings()
    key = settings.model_dump_json()
    st.title("textrepair")
    st.markdown(hl.CSS, unsafe_allow_html=True)
    profile, seed = _damage_controls(settings)
    repair_tab, compare_tab, registry_tab = st.tabs(["Repair", "Model vs SymSpell", "Registry"])
    with registry_tab:
        _registry_view(settings, key)
    with repair_tab:
        clean = _choose_text(settings, key)
        corrupted, events = bk.corrupt(clean, profile, seed)
        try:
            result, info = _repair(_backend(settings, key), key, corrupted)
        except bk.BackendError as error:
            st.error(str(error))
            return
        _repair_view(clean, corrupted, events, result, info)
    with compare_tab:
        _compare_view(clean, corrupted, result, settings)


if __name__ == "__main__":
    main()
