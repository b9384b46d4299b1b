"""The catalog: an index of vaults, policies, items, points and jobs (SQLAlchemy + Alembic).

SQLite in the data directory is the embedded default; PostgreSQL by URL serves several workers.
"""
