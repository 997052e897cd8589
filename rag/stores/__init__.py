"""Stores: the index on disk (FAISS + bm25s) behind one protocol and registry."""
