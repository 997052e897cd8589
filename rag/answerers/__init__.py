"""Answerers: one protocol and registry (base), the extractive, learned and LLM answerers."""
