"""Hybrid retrieval over a store: dense + BM25 fused, names and terms across languages."""
