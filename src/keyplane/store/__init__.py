"""Persistence: SQLAlchemy 2 models, engine and repository functions."""
