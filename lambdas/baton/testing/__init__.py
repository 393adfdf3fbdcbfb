"""Test support shipped with Baton: a scripted model server that speaks the real wire formats."""
