"""Stores: the index behind one protocol (base.Store) and one registry (registry.get_store)."""
