from vmvault.catalog.db import HEAD_REVISION, head_revision


def test_head_revision_constant_matches_alembic() -> None:
    # catalog.db skips importing Alembic when the database is at HEAD_REVISION; a stale
    # constant would silently make every command slower, or skip a new migration's check.
    assert head_revision() == HEAD_REVISION
