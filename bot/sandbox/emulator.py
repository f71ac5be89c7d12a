"""A local Telegram Bot API server for tests, the terminal sandbox and benchmarks.

A real PTB ``Application`` talks HTTP to it::

    emulator = Emulator(strict=True)
    await emulator.start()
    app = (
        ApplicationBuilder().token(emulator.token)
        .base_url(emulator.base_url).base_file_url(emulator.base_file_url).build()
    )

Requests are validated against the Bot API specification (:mod:`bot.sandbox.spec`), carried out on
the simulated Telegram (:class:`bot.sandbox.world.World`, which :class:`Emulator` extends with the HTTP
face), and answered with Telegram-shaped JSON.  Flood limits and fault injection are off by default
(:attr:`Emulator.flood`, :attr:`Emulator.faults`).

Methods the emulator does not carry out are answered in two ways:

* not in the Bot API at all (``sendTelepathy``): **404 Not Found**, exactly as Telegram answers;
* in the Bot API but not implemented here (``sendPoll``): the request is validated first (a malformed
  one gets Telegram's 400), then answered with **501 Not Implemented** and a description naming the
  method and where to add it.  Telegram would have carried such a request out, so the 400 that Telegram
  uses for refused *content* would be a lie the bot might act on (the dispatcher gives up on a 400
  row as refused), and a 404 would read as a misspelt method.  The 501 reaches PTB as a
  ``NetworkError`` carrying the description, and it counts in :attr:`rejected`, so the end-to-end
  tests, which fail on any rejected request, name the missing method instead of passing quietly.
  With the built-in rules (no specification file) only implemented methods are known, so there every
  other method is a 404.

Run standalone (for benchmarks in another process) with ``python -m bot.sandbox.emulator --port 8081``;
then a small control API under ``/_sim/`` lets a load driver add users, type and press buttons.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import signal
import sys
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from bot.sandbox.limits import Fault, Faults, FloodLimits, counts_as_message
from bot.sandbox.spec import ApiError, Spec, UploadedFile, load_spec
from bot.sandbox.world import (
    TEST_TOKEN,
    CallbackAnswer,
    RequestRecord,
    SentMessage,
    SimChat,
    SimulationError,
    SimUser,
    World,
    WorldEvent,
)

__all__ = [
    "CallbackAnswer",
    "Emulator",
    "Fault",
    "Faults",
    "FloodLimits",
    "RequestRecord",
    "SentMessage",
    "SimChat",
    "SimUser",
    "SimulationError",
    "WorldEvent",
    "main",
]

CONFLICT = "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"
NOT_IMPLEMENTED = 501  # a Bot API method this emulator does not carry out (see the module docstring)
_JSON = "application/json"


def _response(status: int, payload: Any) -> web.Response:
    return web.Response(status=status, body=json.dumps(payload, ensure_ascii=False).encode(), content_type=_JSON)


class _Dropped(Exception):
    """The connection was closed on purpose (fault injection)."""


class Emulator(World):
    """The Bot API over HTTP on top of the simulated Telegram.  See the module docstring."""

    def __init__(
        self,
        token: str = TEST_TOKEN,
        *,
        strict: bool = False,
        spec: Spec | None = None,
        flood: FloodLimits | None = None,
        control_api: bool = False,
        bot_username: str = "fitbot_sandbox_bot",
        bot_first_name: str = "FIT-bot",
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], float] = time.time,
        log_limit: int | None = None,
    ) -> None:
        super().__init__(
            token,
            bot_username=bot_username,
            bot_first_name=bot_first_name,
            clock=clock,
            now=now,
            log_limit=log_limit,
        )
        self.spec = spec or load_spec()
        self.strict = strict  # refuse unknown parameters (Telegram ignores them)
        self.flood: FloodLimits | None = flood
        self.faults = Faults()
        self.control_api = control_api
        self.host = "127.0.0.1"
        self.port = 0
        self._runner: web.AppRunner | None = None
        self._api: dict[str, Callable[[dict[str, Any]], Any]] = {
            name[4:]: getattr(self, name) for name in dir(self) if name.startswith("api_")
        }
        self._poll: object | None = None  # the getUpdates call now waiting
        self.in_flight = 0  # requests being answered now (long polls not counted)
        self._stopped: asyncio.Event | None = None

    def record(self, rec: RequestRecord) -> None:
        super().record(rec)
        # World counts 400, 401 and 404 as rejected; a method the emulator lacks must be as visible.
        if rec.status == NOT_IMPLEMENTED and rec.fault is None:
            self.rejected.append(rec)

    @classmethod
    def implemented_methods(cls) -> frozenset[str]:
        """The Bot API methods the emulator carries out."""
        return frozenset({name[4:] for name in dir(cls) if name.startswith("api_")} | {"getUpdates"})

    # ---- life cycle

    @property
    def base_url(self) -> str:
        """For ``ApplicationBuilder().base_url(...)``: PTB appends the token."""
        return f"http://{self.host}:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://{self.host}:{self.port}/file/bot"

    @property
    def polling(self) -> bool:
        """Whether a getUpdates long poll is waiting right now."""
        return self._poll is not None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Serve on ``host:port`` (port 0: a free one; see :attr:`port`)."""
        if self._runner is not None:
            raise RuntimeError("the emulator is already running")
        self.closed = False
        self._stopped = asyncio.Event()
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        if self.control_api:
            app.router.add_post("/_sim/{action}", self._handle_control)
        runner = web.AppRunner(app, access_log=None, handler_cancellation=True, shutdown_timeout=2.0)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self.host = host
        self.port = runner.addresses[0][1]  # the bound port, also when 0 was asked for

    async def stop(self) -> None:
        """Release long polls and waiters, close every connection and stop serving."""
        runner, self._runner = self._runner, None
        self.closed = True
        if self._stopped is not None:
            self._stopped.set()
        self._notify_update()
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> Emulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def settle(self, *, quiet: float = 0.25, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """Wait until the bot has fetched every update and then made no request for ``quiet`` seconds.

        A heuristic for "the bot is done reacting" (the terminal uses it before each prompt; a test that
        asserts the bot did *not* answer may too).  Waiting for what the bot does send is better done
        with :meth:`wait_for_message` and friends.  TimeoutError if the updates are not fetched."""
        last = self.last_update_id
        await self.wait_until(lambda: self.update_confirmed(last), timeout=timeout)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            count = self.request_count
            try:
                await self.wait_until(
                    lambda n=count: self.request_count != n or self.in_flight > 0,  # type: ignore[misc]
                    timeout=quiet,
                )
            except TimeoutError:
                return
            if self.in_flight:
                await self.wait_until(lambda: self.in_flight == 0, timeout=max(deadline - loop.time(), 0.001))

    # ---- HTTP: the Bot API

    async def _read_params(self, request: web.Request) -> tuple[dict[str, Any], dict[str, UploadedFile]]:
        params: dict[str, Any] = dict(request.query) if request.query_string else {}
        files: dict[str, UploadedFile] = {}
        if request.method != "POST" or not request.body_exists:
            return params, files
        ctype = request.content_type
        if ctype == _JSON:
            try:
                body = await request.json()
            except ValueError:
                raise ApiError.bad_request("can't parse JSON object") from None
            if not isinstance(body, dict):
                raise ApiError.bad_request("can't parse JSON object")
            params.update(body)
        elif ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, web.FileField):
                    with value.file as fh:
                        files[key] = UploadedFile(fh.read(), value.filename, value.content_type)
                else:
                    params[key] = value
        return params, files

    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        if request.match_info["token"] != self.token:
            self.record(RequestRecord(method, {}, 401, "Unauthorized"))
            return _response(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
        name = self.spec.canonical(method)
        if name is None:
            self.record(RequestRecord(method, {}, 404, "Not Found"))
            return _response(404, {"ok": False, "error_code": 404, "description": "Not Found"})
        try:
            params, files = await self._read_params(request)
        except ApiError as exc:
            self.record(RequestRecord(name, {}, exc.status, exc.description))
            return _response(exc.status, exc.payload())
        logged = dict(params)
        for key, part in files.items():
            logged[key] = f"<file {part.filename or key}, {len(part.data)} bytes>"
        fault = self.faults.take(name, params.get("chat_id")) if self.faults else None
        fault_tag = fault.describe() if fault is not None else None
        counted = name != "getUpdates"
        self.in_flight += counted
        self._notify()
        try:
            if fault is not None and not fault.after_processing:
                status, payload = await self._serve_fault(request, fault)
                if status is None:
                    status, payload = await self._execute(name, params, files)
            else:
                status, payload = await self._execute(name, params, files)
                if fault is not None:
                    fault_status, fault_payload = await self._serve_fault(request, fault)
                    if fault_status is not None:
                        status, payload = fault_status, fault_payload
        except _Dropped:
            self.record(RequestRecord(name, logged, 0, "connection dropped", fault_tag))
            self._notify()
            return web.Response(status=204)  # never reaches the client: the transport is closed
        except asyncio.CancelledError:  # the client went away (e.g. its time-out) before the answer
            if name != "getUpdates":
                self.record(RequestRecord(name, logged, 0, "client disconnected", fault_tag))
                self._notify()
            raise
        finally:
            self.in_flight -= counted
        description = None if status == 200 else payload.get("description")
        self.record(RequestRecord(name, logged, status, description, fault_tag))
        self._notify()
        return _response(status, payload)

    async def _serve_fault(self, request: web.Request, fault: Fault) -> tuple[int | None, Any]:
        if fault.delay:
            assert self._stopped is not None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopped.wait(), fault.delay)
        if fault.drop:
            if request.transport is not None:
                request.transport.close()
            raise _Dropped
        if fault.status is not None:
            return fault.status, fault.error_payload()
        return None, None

    async def _execute(
        self, name: str, params: dict[str, Any], files: dict[str, UploadedFile]
    ) -> tuple[int, dict[str, Any]]:
        try:
            p = self.spec.validate(name, params, files, strict=self.strict)
            if name == "getUpdates":
                return 200, {"ok": True, "result": await self._get_updates(p)}
            handler = self._api.get(name)
            if handler is None:
                raise ApiError(
                    NOT_IMPLEMENTED,
                    f"Not Implemented: {name} is a Bot API method the FIT-bot emulator does not carry out "
                    f"(add api_{name} to bot/sandbox/emulator.py)",
                )
            if self.flood is not None and counts_as_message(name):
                retry_after = self.flood.check(self._flood_chat(p.get("chat_id")))
                if retry_after is not None:
                    raise ApiError(429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after)
            return 200, {"ok": True, "result": handler(p)}
        except ApiError as exc:
            return exc.status, exc.payload()

    def _flood_chat(self, chat_id: int | str | None) -> int | None:
        if isinstance(chat_id, str):
            chat = self._usernames.get(chat_id.lstrip("@").lower())
            return chat.id if chat is not None else None
        return chat_id

    async def _get_updates(self, p: dict[str, Any]) -> list[dict[str, Any]]:
        """getUpdates with long polling: answers as soon as there is an update, at ``timeout``, or when
        the emulator stops.  A newer call ends a waiting one with 409 Conflict, as Telegram does."""
        if self._poll is not None:
            self._poll = None
            self._notify_update()  # the waiting call sees it is no longer current
        result = self.get_updates(p)
        timeout = p.get("timeout", 0)
        if result or timeout <= 0 or self.closed:
            return result
        limit = p.get("limit", 100)
        me = self._poll = object()
        self._notify()  # observers may wait for a poll to be waiting (see ``polling``)
        try:
            async with asyncio.timeout(timeout):
                while True:
                    await self._update_event().wait()
                    if self._poll is not me:
                        raise ApiError(409, CONFLICT)
                    result = self._take_updates(limit if 1 <= limit <= 100 else 100)
                    if result or self.closed:
                        return result
        except TimeoutError:
            return []
        finally:
            if self._poll is me:
                self._poll = None

    # ---- HTTP: files

    async def _handle_file(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return _response(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
        stored = self.file_by_path(request.match_info["path"])
        if stored is None:
            return _response(404, {"ok": False, "error_code": 404, "description": "Not Found"})
        return web.Response(body=stored.data, content_type=stored.mime_type or "application/octet-stream")

    # ---- HTTP: the control API of the standalone server

    async def _handle_control(self, request: web.Request) -> web.Response:
        action = request.match_info["action"]
        try:
            body = await request.json() if request.body_exists else {}
            result = self._control(action, body)
        except (SimulationError, KeyError, TypeError, ValueError) as exc:
            return _response(400, {"ok": False, "error": f"{type(exc).__name__}: {exc}"})
        return _response(200, {"ok": True, "result": result})

    def _control(self, action: str, body: dict[str, Any]) -> Any:
        if action == "add_user":
            user = self.add_user(
                body["first_name"],
                last_name=body.get("last_name"),
                username=body.get("username"),
                language_code=body.get("language_code", "da"),
            )
            return {"user_id": user.id}
        if action == "send_text":
            user = self.users[int(body["user_id"])]
            chat = self.chats[int(body["chat_id"])] if body.get("chat_id") is not None else None
            msg = self.send_text(user, body["text"], chat=chat)
            return {"message_id": msg.message_id, "update_id": self.last_update_id}
        if action == "press":
            user = self.users[int(body["user_id"])]
            chat = self.chats[int(body.get("chat_id", user.id))]
            if "data" in body:
                return {"callback_query_id": self.press_raw(user, int(body["message_id"]), body["data"], chat=chat)}
            msg = self._messages[chat.id][int(body["message_id"])]
            return {"callback_query_id": self.press(user, msg, body["button"])}
        if action == "messages":
            msgs = self.messages(int(body["chat_id"]))[-int(body.get("limit", 10)) :]
            return [
                {
                    "message_id": m.message_id,
                    "text": m.content,
                    "buttons": m.button_texts,
                    "edits": len(m.edits),
                    # The buttons' callback data ("" for a URL button); text and button data as first sent.
                    "button_data": _button_data(m.reply_markup),
                    "first_text": (m.edits[0].text or m.edits[0].caption or "") if m.edits else m.content,
                    "first_button_data": _button_data(m.edits[0].reply_markup if m.edits else m.reply_markup),
                }
                for m in msgs
            ]
        if action == "fault":
            # A fault rule, as Faults.add takes it: method, status, description, retry_after, delay, drop,
            # after_processing, chat_id, count.
            fields = {f.name for f in dataclasses.fields(Fault)}
            unknown = set(body) - fields
            if unknown:
                raise ValueError(f"unknown fault fields {sorted(unknown)}")
            self.faults.add(Fault(**body))
            return {"rules": len(self.faults.rules)}
        if action == "stats":
            stats = self.stats()
            stats["faults_served"] = len(self.faults.served)
            stats["in_flight"] = self.in_flight
            stats["sent_per_chat"] = {str(k): v for k, v in stats["sent_per_chat"].items()}
            return stats
        raise KeyError(f"unknown action {action!r}")


def _button_data(markup: dict[str, Any] | None) -> list[str]:
    rows = (markup or {}).get("inline_keyboard")
    return [b.get("callback_data", "") for row in rows for b in row] if isinstance(rows, list) else []


# --------------------------------------------------------------------------------------------------
# Standalone


async def _serve(args: argparse.Namespace) -> None:
    emulator = Emulator(args.token, strict=args.strict, control_api=True, log_limit=args.log_limit)
    await emulator.start(args.host, args.port)
    print(f"Bot API emulator: base_url={emulator.base_url} token={emulator.token}", flush=True)
    print(f"control API: POST {emulator.url}/_sim/{{add_user,send_text,press,messages,fault,stats}}", flush=True)
    done = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, done.set)
    try:
        await done.wait()
    finally:
        await emulator.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bot.sandbox.emulator", description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--token", default=TEST_TOKEN)
    parser.add_argument("--strict", action="store_true", help="refuse unknown parameters")
    parser.add_argument("--log-limit", type=int, default=10_000, help="requests kept in the log")
    args = parser.parse_args(argv)
    asyncio.run(_serve(args))


if __name__ == "__main__":
    main(sys.argv[1:])
