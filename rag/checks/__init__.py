"""Checks on answers: citation marks and figures, each parsed and verified in one place."""
