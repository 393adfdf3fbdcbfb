"""The workflow language: models, loader, semantic checks, JSON Schema, graph drawing."""
