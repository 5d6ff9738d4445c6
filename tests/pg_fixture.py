"""PostgreSQL fixtures: one throw-away cluster per test process (per xdist worker), and a
fresh database per test, copied from a migrated template (a copy takes ~50 ms; migrating
each one would take longer). Without PostgreSQL the tests that need it skip, saying why.

Use from any test folder::

    from tests.pg_fixture import pg_cluster, pg_template, pg_url  # noqa: F401
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devflow_tui.accounting.store import AnalyticsStore
from tests.pg_cluster import ClusterUnavailable, TempCluster

TEMPLATE = "devflow_template"


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[TempCluster]:
    """A PostgreSQL server for this test process, or a skip that says why there is none."""
    try:
        cluster = TempCluster()
    except ClusterUnavailable as exc:
        pytest.skip(f"PostgreSQL tests need a local PostgreSQL: {exc}")
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def pg_template(pg_cluster: TempCluster, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A database with every migration applied, to copy per test."""
    with pg_cluster.connect("postgres") as conn:
        conn.execute(f'CREATE DATABASE "{TEMPLATE}"'.encode())
    AnalyticsStore(tmp_path_factory.mktemp("unused") / "x.db", url=pg_cluster.url(TEMPLATE)).close()
    return TEMPLATE


@pytest.fixture
def pg_url(pg_cluster: TempCluster, pg_template: str) -> Iterator[str]:
    """The URL of a fresh, migrated database of this test's own."""
    name = pg_cluster.create_database(template=pg_template)
    try:
        yield pg_cluster.url(name)
    finally:
        pg_cluster.drop_database(name)


@pytest.fixture
def pg_empty_url(pg_cluster: TempCluster) -> Iterator[str]:
    """The URL of a fresh, empty database (no migration applied)."""
    name = pg_cluster.create_database()
    try:
        yield pg_cluster.url(name)
    finally:
        pg_cluster.drop_database(name)


__all__ = ["pg_cluster", "pg_empty_url", "pg_template", "pg_url"]
