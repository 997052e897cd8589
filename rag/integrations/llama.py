"""llama-index wiring, kept behind our own types so that a llama-index upgrade touches one file.

Everything is passed explicitly (embed model, retriever); nothing here reads or sets llama-index's
global `Settings`, whose defaults reach for a paid API.
"""

from __future__ import annotations

from typing import Any

from llama_index.core.bridge.pydantic import PrivateAttr
from llama_index.core.embeddings import BaseEmbedding
from llama_index.core.retrievers import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from rag.embedders import Embedder
from rag.service import RAG, hit_dict
from rag.stores.base import Filters


class LlamaEmbedding(BaseEmbedding):
    """One of our embedders as a llama-index embed model (query and passage kept apart)."""

    _embedder: Embedder = PrivateAttr()

    def __init__(self, embedder: Embedder, **kwargs: Any) -> None:
        super().__init__(model_name=embedder.id, embed_batch_size=16, **kwargs)
        self._embedder = embedder

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._embedder.embed_query(query).tolist()

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._embedder.embed_passages([text])[0].tolist()

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self._embedder.embed_passages(texts).tolist()


class HybridRetriever(BaseRetriever):
    """Our FAISS + BM25 hybrid search as a llama-index retriever, for query engines and agents."""

    def __init__(self, rag: RAG, k: int = 5, filters: Filters | None = None) -> None:
        super().__init__()
        self._rag = rag
        self._k = k
        self._filters = filters

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        result = self._rag.search(query_bundle.query_str, k=self._k, filters=self._filters)
        nodes = []
        for hit in result.hits:
            record = hit_dict(self._rag.index, hit)
            text = record.pop("text")
            score = record.pop("score")
            node = TextNode(id_=record["chunk_id"], text=text, metadata=record)
            nodes.append(NodeWithScore(node=node, score=score))
        return nodes


class OutOfTheBoxBaseline:
    """llama-index as a new user gets it: `VectorStoreIndex` over whole documents with its
    default `SentenceSplitter` and default retriever, on the same embedder as the product.

    The benchmark measures the product's gain against this, side by side in one run.
    """

    def __init__(self, documents: dict[str, str], embedder: Embedder, progress: bool) -> None:
        from llama_index.core import Document, VectorStoreIndex
        from llama_index.core.node_parser import SentenceSplitter

        docs = [Document(text=text, id_=doc_id) for doc_id, text in documents.items()]
        self._index = VectorStoreIndex.from_documents(
            docs,
            embed_model=LlamaEmbedding(embedder),
            transformations=[SentenceSplitter()],  # its defaults, passed rather than read
            show_progress=progress,
        )
        self.nodes = len(self._index.docstore.docs)

    def ranked_documents(self, query: str, query_vector: list[float], k: int) -> list[str]:
        """Document ids of the top-k nodes, best first; the query's vector is computed once."""
        retriever = self._index.as_retriever(similarity_top_k=k)
        found = retriever.retrieve(QueryBundle(query_str=query, embedding=query_vector))
        return list(dict.fromkeys(n.node.ref_doc_id or "" for n in found))
