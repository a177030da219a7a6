"""Alembic migrations, shipped inside the package so `incident-bot migrate` works from any directory."""
