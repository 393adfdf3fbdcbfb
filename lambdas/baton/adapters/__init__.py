"""Adapters: implementations of the ports for one home (local, AWS)."""
