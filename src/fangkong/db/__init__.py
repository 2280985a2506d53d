"""Storage: SQLAlchemy 2.0 models base, engine, sessions and Alembic migrations."""
