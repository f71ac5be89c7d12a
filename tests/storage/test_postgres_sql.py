"""How the PostgreSQL backend rewrites the shared SQL (no server needed)."""

from __future__ import annotations

from bot.storage.postgres import _args, _convert, _rowcount


def test_named_parameters_become_numbered_and_repeat() -> None:
    text, order = _convert("SELECT * FROM t WHERE a = :a AND b > :b_2 OR a < :a")
    assert text == "SELECT * FROM t WHERE a = $1 AND b > $2 OR a < $1"
    assert order == ("a", "b_2")


def test_casts_and_times_are_not_parameters() -> None:
    text, order = _convert("SELECT x::text, '10:30' FROM t WHERE y = :y")
    assert text == "SELECT x::text, '10:30' FROM t WHERE y = $1"
    assert order == ("y",)


def test_postgres_only_comments_are_expanded() -> None:
    text, _ = _convert("SELECT id FROM t LIMIT :n /*pg: FOR UPDATE SKIP LOCKED*/) AND x")
    assert text == "SELECT id FROM t LIMIT $1  FOR UPDATE SKIP LOCKED ) AND x"
    assert _convert("SELECT 1 /* a plain comment */")[0] == "SELECT 1 /* a plain comment */"


def test_args_follow_the_placeholders_and_ignore_unused_params() -> None:
    assert _args("SELECT :b, :a, :b", {"a": 1, "b": 2, "unused": 3}) == ("SELECT $1, $2, $1", [2, 1])
    assert _args("SELECT 1", None) == ("SELECT 1", [])


def test_rowcount_from_command_status() -> None:
    assert _rowcount("INSERT 0 1") == 1
    assert _rowcount("UPDATE 12") == 12
    assert _rowcount("INSERT 0 0") == 0
    assert _rowcount("CREATE TABLE") == 0
