"""Offline measurement: the figure set, XQuAD, the answer scorer's fitting, speed."""
