"""The edit family: exact labels, two-pass inference, save/load, and learning a damage pattern."""

from __future__ import annotations

import functools
import json
import random

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from textrepair.config import ModelConfig, MutationSpec, TrainConfig, load_settings
from textrepair.data.mutations import Mutation, Mutator
from textrepair.model.edit import (
    DROP,
    KEEP,
    REPLACED,
    REVERSED,
    CharVocab,
    EditDecoder,
    EditDecoding,
    apply_tags,
    build_encoder,
    fill_masks,
    labels_from_mutations,
    repeat_features,
)
from textrepair.model.edit_train import (
    DamageSampler,
    EditExample,
    character_error_rate,
    make_batch,
    train_edit_model,
)
from textrepair.model.families import ModelLoadError, build_model, load_model, save_model
from textrepair.model.repairer import Repairer

TYPES = ("deletion", "substitution", "insertion", "duplication", "reversal")
TEXT = st.text(alphabet=st.sampled_from("abcdefgh XYZ,.éß漢😀"), min_size=1, max_size=60)


@functools.cache  # hypothesis calls it per example: reading params.yaml each time took 14 s
def _profiles() -> dict[str, Mutator]:
    return {name: Mutator(spec) for name, spec in load_settings().mutation_profiles.items()}


def _restored(corrupted: str, events: list[Mutation]) -> str:
    labels = labels_from_mutations(corrupted, events)
    return fill_masks(apply_tags(corrupted, labels.actions, labels.gaps), labels.fills)


@settings(max_examples=300, deadline=None)
@given(text=TEXT, profile=st.sampled_from(sorted(_profiles())), seed=st.integers(0, 2**32))
def test_true_labels_and_fills_restore_the_clean_text(text, profile, seed):
    corrupted, events = _profiles()[profile].mutate(text, random.Random(seed))
    assert _restored(corrupted, events) == text


@pytest.mark.parametrize(
    ("clean", "event"),
    [
        ("abcdef", Mutation("deletion", 0, 2, "ab", "")),  # at the start
        ("abcdef", Mutation("deletion", 4, 2, "ef", "")),  # at the end
        ("abcdef", Mutation("insertion", 6, 0, "", "xy")),  # appended
        ("a", Mutation("substitution", 0, 1, "a", "Q")),  # a one-character window
        ("a", Mutation("duplication", 0, 1, "a", "aa")),
        ("ünï", Mutation("reversal", 0, 3, "ünï", "ïnü")),  # non-ASCII
    ],
)
def test_edge_cases_restore(clean, event):
    corrupted = clean[: event.start] + event.replacement + clean[event.start + event.length :]
    assert _restored(corrupted, [event]) == clean


def test_labels_name_each_damage_kind():
    # "the cat" with an insertion and a duplication.
    events = [Mutation("insertion", 1, 0, "", "#"), Mutation("duplication", 3, 2, " c", " c c")]
    labels = labels_from_mutations("t#he c cat", events)
    assert labels.actions == [KEEP, DROP, KEEP, KEEP, KEEP, KEEP, DROP, DROP, KEEP, KEEP]
    labels = labels_from_mutations("tah", [Mutation("reversal", 1, 2, "ha", "ah")])
    assert labels.actions == [KEEP, REVERSED, REVERSED]
    labels = labels_from_mutations("tXe", [Mutation("substitution", 1, 1, "h", "X")])
    assert labels.actions == [KEEP, REPLACED, KEEP] and labels.fills == "h"
    labels = labels_from_mutations("te", [Mutation("deletion", 1, 1, "h", "")])
    assert labels.gaps == [0, 1, 0] and labels.fills == "h"


def test_repeat_features_mark_a_tandem_copy():
    vocab = CharVocab("abcxyz")
    ids = torch.tensor([vocab.encode("xabcabcy")])
    features = repeat_features(ids, ids != 0)
    assert features[0, 4, 2] == 1  # "abc" at 4 repeats "abc" at 1 (k = 3)
    assert features[0, 1, 2] == 0
    inside = features[0, :, 8 + 2].tolist()  # inside a second copy of length 3
    assert inside == [0, 0, 0, 0, 1, 1, 1, 0]


# ----------------------------------------------------------------------------- tiny models
def _tiny(texts: list[str], seed: int = 0) -> tuple[ModelConfig, torch.nn.Module, CharVocab]:
    config = ModelConfig(dtype="float32", family="edit", size="tiny", dropout=0.0)
    torch.manual_seed(seed)
    model, vocab = build_model(config, texts)
    return config, model.eval(), vocab


def _keep_everything(model: torch.nn.Module) -> None:
    with torch.no_grad():
        for head in (model.action_head, model.gap_head):
            head.weight.zero_()
            head.bias.fill_(-10.0)
            head.bias[0] = 10.0  # keep, and a gap of 0


def test_two_pass_repair_keeps_text_when_tags_say_keep():
    texts = ["the quick brown fox", "jumps over the lazy dog"]
    _, model, vocab = _tiny(texts)
    _keep_everything(model)
    decoder = EditDecoder(model, vocab)
    windows = [*texts, "unknown ✓ char"]
    assert decoder.repair(windows) == windows


def test_tagging_and_filling_shapes():
    _, model, vocab = _tiny(["abc"])
    decoder = EditDecoder(model, vocab, EditDecoding(fill_rounds=3))
    slots, confidence = decoder.tag(["abc", "a"])
    assert len(slots) == 2 and len(confidence) == 2
    assert all(0.0 <= c <= 1.0 for c in confidence)
    filled = decoder.fill([["a", None, None, "c"], ["x"]])
    assert [len(f) for f in filled] == [4, 1] and filled[0][0] == "a" and filled[1] == "x"


def test_repairer_loses_no_characters_at_window_joins(tmp_path):
    config, model, vocab = _tiny(["abc"])
    _keep_everything(model)
    path = save_model(model, vocab, config, tmp_path / "edit")
    text = " ".join(f"word{i}." for i in range(200)) + "\n\n  second   line\t"
    repairer = Repairer.load(path, max_window_bytes=32)
    result = repairer.repair([text])[0]
    assert result.text == text and not result.changed


def test_save_load_round_trip(tmp_path):
    config, model, vocab = _tiny(["some text", "ünïcode"], seed=3)
    path = save_model(model, vocab, config, tmp_path / "edit")
    manifest = json.loads((path / "textrepair_model.json").read_text())
    assert manifest["family"] == "edit" and manifest["weights"] == "full"
    loaded = load_model(path)
    assert loaded.tokenizer.chars == vocab.chars
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, loaded.model.state_dict()[name].float()), name
    windows = ["some txet", "ünïcooode"]
    assert EditDecoder(loaded.model, loaded.tokenizer).repair(windows) == EditDecoder(
        model, vocab
    ).repair(windows)


@pytest.mark.parametrize("broken", ["missing_weights", "corrupt_weights", "missing_vocab"])
def test_broken_model_directory_gives_a_clear_error(tmp_path, broken):
    config, model, vocab = _tiny(["abc"])
    path = save_model(model, vocab, config, tmp_path / "edit")
    if broken == "missing_weights":
        (path / "model.safetensors").unlink()
    elif broken == "corrupt_weights":
        (path / "model.safetensors").write_bytes(b"not safetensors")
    else:
        (path / "vocab.json").unlink()
    with pytest.raises(ModelLoadError, match=str(path.name)):
        load_model(path)


def test_sampler_is_seeded_by_step():
    profiles = _profiles()
    windows = [f"window number {i} of the corpus" for i in range(50)]
    sampler = DamageSampler(windows, profiles, {"default": 1.0, "heavy": 1.0}, 0.1, seed=7)
    first, _ = sampler.examples(5, 8)
    again, _ = sampler.examples(5, 8)
    other, _ = sampler.examples(6, 8)
    assert [e.corrupted for e in first] == [e.corrupted for e in again]
    assert [e.corrupted for e in first] != [e.corrupted for e in other]
    with pytest.raises(ValueError, match="unknown profiles"):
        DamageSampler(windows, profiles, {"nope": 1.0}, 0.1, seed=7)


def test_batch_targets_line_up():
    vocab = CharVocab("abcdefgh ")
    example = EditExample("abxcdd e", "abcd e", [])
    example.events.extend(
        [Mutation("insertion", 2, 0, "", "x"), Mutation("duplication", 3, 1, "d", "dd")]
    )
    batch = make_batch([example], vocab.encode, 4, random.Random(0), extra_mask_rate=0.0)
    assert batch.tag_ids.shape == (1, 9) and batch.actions[0, 0] == -100
    assert batch.actions[0, 1:].tolist() == [KEEP, KEEP, DROP, KEEP, KEEP, DROP, KEEP, KEEP]
    assert (batch.fill_targets != -100).sum() == 0  # nothing was lost, nothing to fill


@pytest.mark.slow
def test_a_tiny_model_learns_to_undo_one_damage_pattern(tmp_path):
    """Trained for a few seconds on duplications only, it removes most of them."""
    rng = random.Random(0)
    words = ["alpha", "beta", "gamma", "delta", "river", "stone", "light", "north"]
    windows = [" ".join(rng.choice(words) for _ in range(6)) for _ in range(200)]
    duplication = {"duplication": MutationSpec(rate=4.0, mean_length=2.5, max_length=6)}
    profiles = {"duplication": Mutator(duplication)}
    sampler = DamageSampler(windows, profiles, {"duplication": 1.0}, 0.0, seed=1)
    held_out, _ = sampler.examples(10_000, 40)
    config = ModelConfig(
        dtype="float32",
        family="edit",
        size="tiny",
        dropout=0.0,
        edit={"max_gap": 6, "profile_mix": {"duplication": 1.0}},
    )
    train_config = TrainConfig(
        max_minutes=2,
        max_steps=300,
        batch_size=16,
        learning_rate=1e-2,
        eval_steps=300,
        eval_rows=40,
        seed=0,
        threads=1,
        precision="float32",
    )
    result = train_edit_model(config, train_config, windows, held_out, profiles, 0.0, tmp_path)
    repairer = Repairer.load(result.model_dir)
    repaired = [r.text for r in repairer.repair([e.corrupted for e in held_out])]
    before = character_error_rate([e.corrupted for e in held_out], [e.clean for e in held_out])
    after = character_error_rate(repaired, [e.clean for e in held_out])
    assert before > 0.05
    assert after < 0.5 * before, (before, after)


def test_build_encoder_sizes():
    small = build_encoder(100, "small", 10, 0.1)
    assert 4_000_000 < sum(p.numel() for p in small.parameters()) < 7_000_000


def test_resume_continues_exactly(tmp_path):
    """Ten steps, a checkpoint, ten more on --resume: the same weights as twenty in one go."""
    from textrepair.model.edit_train import EditTrainSetup, train_edit

    windows = [f"line {i}: the quick brown fox jumps over the lazy dog" for i in range(30)]
    sampler = DamageSampler(windows, _profiles(), {"default": 1.0}, 0.1, seed=3)
    validation, _ = sampler.examples(999, 8)

    def run(folder: str, steps: int, resume: bool) -> torch.nn.Module:
        _, model, vocab = _tiny(windows, seed=4)
        setup = EditTrainSetup(
            sampler=sampler,
            validation=validation,
            encode=vocab.encode,
            max_gap=10,
            batch_size=4,
            learning_rate=3e-3,
            warmup_steps=2,
            schedule_steps=20,
            weight_decay=0.01,
            max_minutes=5,
            max_steps=steps,
            eval_steps=10,
            patience=5,
            loss_weights={},
            label_smoothing=0.0,
            extra_mask_rate=0.1,
            bfloat16=False,
        )
        decoder = EditDecoder(model, vocab)
        train_edit(model.train(), decoder, setup, tmp_path / folder, resume=resume)
        return model

    straight = run("straight", 20, resume=False)
    run("split", 10, resume=False)
    resumed = run("split", 20, resume=True)
    for name, tensor in straight.state_dict().items():
        assert torch.equal(tensor, resumed.state_dict()[name]), name


def test_calibration_keeps_clean_text_intact(tmp_path):
    """A model unsure of every character (P(keep) = 0.45) drops them all at the default
    threshold; calibration picks the threshold that leaves clean windows alone and saves it."""
    from textrepair.model.edit_train import calibrate_decoding

    windows = [f"plain sentence number {i} with nothing wrong" for i in range(12)]
    config, model, vocab = _tiny(windows, seed=5)
    _keep_everything(model)
    with torch.no_grad():
        model.action_head.bias.copy_(torch.tensor([0.45, 0.55, 1e-6, 1e-6]).log())
    path = save_model(model, vocab, config, tmp_path / "edit")
    examples = [EditExample(w, w, []) for w in windows]
    grid = {"keep_threshold": (0.5, 0.4), "refine_rounds": (0,)}
    table = calibrate_decoding(path, examples, grid, max_broken_rate=0.003)
    broken = {r["keep_threshold"]: r["broken_rate"] for r in table}
    assert broken[0.5] > 0.5 and broken[0.4] == 0.0
    assert load_model(path).config.edit.keep_threshold == 0.4


def test_warm_start_continues_from_saved_weights(tmp_path):
    from textrepair.model.edit_train import warm_start_model

    config, model, vocab = _tiny(["some text"], seed=6)
    path = save_model(model, vocab, config, tmp_path / "edit")
    warm, warm_vocab = warm_start_model(path, config)
    assert warm.training and warm_vocab.chars == vocab.chars
    assert torch.equal(warm.char_head.weight, model.char_head.weight)
    with pytest.raises(ModelLoadError, match="not an edit \\(small\\)"):
        warm_start_model(path, config.model_copy(update={"size": "small"}))


def test_refinement_stays_only_if_it_wins_by_the_margin():
    """A refine round costs a pass per changed window: a 1% gain drops it, a 5% gain keeps it,
    and it stays whenever the setting without it breaks too much clean text."""
    from textrepair.model.edit_train import fewer_passes_unless_better

    refined = EditDecoding(refine_rounds=1)

    def scores(with_refine: float, without: float, broken_without: float = 0.0):
        table = {
            refined: (with_refine, 0.0),
            EditDecoding(refine_rounds=0): (without, broken_without),
        }
        return table.__getitem__

    assert fewer_passes_unless_better(refined, scores(0.099, 0.100), 0.003, 0.02).refine_rounds == 0
    assert fewer_passes_unless_better(refined, scores(0.095, 0.100), 0.003, 0.02).refine_rounds == 1
    assert fewer_passes_unless_better(refined, scores(0.099, 0.1, 0.01), 0.003, 0.02) == refined
    plain = EditDecoding(refine_rounds=0)
    assert fewer_passes_unless_better(plain, scores(0.0, 1.0), 0.003, 0.02) is plain
