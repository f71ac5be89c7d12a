"""The PostgreSQL test fixture's own rules: where the server comes from, and skip versus fail."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from tests.pg_cluster import _with_database, find_bin_dir, unavailable


@pytest.mark.parametrize("ci", [None, "", "0", "false"])
def test_without_ci_a_missing_server_skips(monkeypatch: pytest.MonkeyPatch, ci: str | None) -> None:
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    with pytest.raises(pytest.skip.Exception, match="no server"):
        unavailable("no server")


@pytest.mark.parametrize("ci", ["1", "true"])
def test_under_ci_a_missing_server_fails(monkeypatch: pytest.MonkeyPatch, ci: str) -> None:
    monkeypatch.setenv("CI", ci)
    with pytest.raises(pytest.fail.Exception, match="CI must test PostgreSQL"):
        unavailable("no server")


def test_server_binaries_are_found_where_debian_puts_them() -> None:
    found = find_bin_dir()
    if found is None:
        pytest.skip("no PostgreSQL server binaries on this machine")
    assert all((found / tool).is_file() for tool in ("pg_ctl", "initdb", "postgres"))


def test_a_database_dsn_keeps_the_socket_directory_and_options() -> None:
    dsn = _with_database("postgresql://postgres@/postgres?host=/tmp/fitbot-pg-x&port=5432", "t1", search_path="s")
    parts = urlsplit(dsn)
    assert parts.path == "/t1"
    assert parse_qs(parts.query) == {"host": ["/tmp/fitbot-pg-x"], "port": ["5432"], "search_path": ["s"]}
