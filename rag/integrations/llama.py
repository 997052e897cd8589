"""llama-index wiring, kept behind our own types so that a llama-index upgrade touches one file.

Everything is passed explicitly (embed model, retriever); nothing here reads or sets llama-index's
global `Settings`, whose defaults reach for a paid API.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from llama_index.core.bridge.pydantic import PrivateAttr
from llama_index.core.embeddings import BaseEmbedding
from llama_index.core.retrievers import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from rag.config import LLMSettings
from rag.embedders import Embedder
from rag.errors import MissingExtra
from rag.stores.base import Filters

if TYPE_CHECKING:
    from rag.service import RAG


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
        for record in result.to_dicts(self._rag.index):
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


def openai_like_client(settings: LLMSettings) -> Any:
    """llama-index's OpenAI-compatible chat client, built from the settings alone."""
    settings.check()
    try:
        from llama_index.llms.openai_like import OpenAILike
    except ImportError:
        raise MissingExtra("llama-index-llms-openai-like", "llm") from None
    return OpenAILike(
        model=settings.model,
        api_base=settings.base_url or "https://api.openai.com/v1",
        api_key=settings.api_key or "not-needed",
        timeout=settings.timeout_s,
        max_retries=settings.retries,  # the OpenAI client backs off exponentially between tries
        max_tokens=settings.max_tokens,
        temperature=settings.temperature,
        is_chat_model=True,
        context_window=8192,
    )


def stream_chat(client: Any, messages: Sequence[dict[str, str]]) -> Iterator[str]:
    """The model's reply to `messages` (role/content dicts), text piece by piece."""
    from llama_index.core.llms import ChatMessage

    chat = [ChatMessage(role=m["role"], content=m["content"]) for m in messages]
    for chunk in client.stream_chat(chat):
        if chunk.delta:
            yield chunk.delta
