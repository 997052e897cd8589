"""Answerers: one protocol and registry (base), the extractive (default) and LLM answerers."""
