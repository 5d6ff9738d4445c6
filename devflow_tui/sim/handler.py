"""The HTTP handler of the simulated server: routing, auth, faults, streaming.

One instance serves one connection (HTTP/1.1 keep-alive). Error bodies are sent chunked
without Content-Length, as the real service does; streams are `text/event-stream` with LF
framing. A client that disconnects mid-stream is recorded as `cancelled`.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import socket
import string
import uuid
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from devflow_tui.redaction import mask_key
from devflow_tui.sim import error_bodies
from devflow_tui.sim import messages as anthropic
from devflow_tui.sim.completion import Completion, generation_record, plan_completion
from devflow_tui.sim.config import PRE_STREAM_KINDS, Fault
from devflow_tui.sim.encoding import dumps
from devflow_tui.sim.error_bodies import ErrorReply
from devflow_tui.sim.profiles import ModelProfile
from devflow_tui.sim.recording import RecordedRequest, masked_headers
from devflow_tui.sim.responder import last_user_text, prompt_tokens
from devflow_tui.sim.tools import called_tools, plan_tool_call, tool_prompt

if TYPE_CHECKING:
    from devflow_tui.sim.server import SimHTTPServer, SimServer

API_PREFIX = "/api/v1"
KEEPALIVE = b": OPENROUTER PROCESSING\n\n"
_ALNUM = string.ascii_letters + string.digits
_DISCONNECTS = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError)
_STREAM_FAULT_KINDS = (
    "error_200",
    "mid_stream_error",
    "abrupt_close",
    "slow_first_token",
    "keepalive",
    "empty_content",
)


class _Aborted(Exception):  # internal control flow, never escapes the handler
    """The stream must stop now (server stopping or abrupt-close fault)."""


def _new_generation_id(now_s: float) -> str:
    return f"gen-{int(now_s)}-{''.join(secrets.choice(_ALNUM) for _ in range(20))}"


class SimRequestHandler(BaseHTTPRequestHandler):
    """Serves one connection; `server.sim` holds the state."""

    protocol_version = "HTTP/1.1"
    server_version = "devflow-sim"
    sys_version = ""
    # Headers and body are separate writes; with Nagle on, delayed ACKs add ~40 ms per request.
    disable_nagle_algorithm = True
    server: SimHTTPServer
    # The endpoint being served decides the shapes: "/chat/completions" or "/messages".
    endpoint = "/chat/completions"
    timeout = 120  # idle keep-alive connections are closed after this many seconds

    def log_message(self, format: str, *args: Any) -> None:
        # Request logs would flood test output and the `devflow sim` terminal.
        return

    @property
    def sim(self) -> SimServer:
        return self.server.sim

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    # ------------------------------------------------------------ plumbing

    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw_body = self.rfile.read(length) if length > 0 else b""
        path = url.path[len(API_PREFIX) :] if url.path.startswith(API_PREFIX) else url.path
        path = path.rstrip("/") or "/"
        self.endpoint = "/messages" if path == "/messages" else "/chat/completions"
        body: Any = None
        bad_json = False
        if raw_body:
            try:
                body = json.loads(raw_body)
            except ValueError:
                bad_json = True
        record = RecordedRequest(
            method=method,
            path=path,
            query=dict(parse_qsl(url.query)),
            headers=masked_headers(self.headers),
            json=body,
            time=self.sim.now(),
        )
        self.sim._record(record)
        try:
            self._route(method, path, url.path.startswith(API_PREFIX), record, body, bad_json)
        except _DISCONNECTS:
            record.cancelled = True
            self.close_connection = True
        except _Aborted:
            self.close_connection = True
        finally:
            self.sim._mark_done(record)

    def _route(
        self,
        method: str,
        path: str,
        under_api: bool,
        record: RecordedRequest,
        body: Any,
        bad_json: bool,
    ) -> None:
        routes: dict[str, tuple[str, Callable[[RecordedRequest, Any], None]]] = {
            "/models": ("GET", self._models),
            "/chat/completions": ("POST", self._chat),
            "/messages": ("POST", self._messages),
            "/generation": ("GET", self._generation),
            "/key": ("GET", self._key),
            "/auth/key": ("GET", self._key),
            "/credits": ("GET", self._credits),
        }
        route = routes.get(path) if under_api else None
        if route is None:
            self._send_error(record, error_bodies.not_found("Not Found"))
            return
        expected, handler = route
        if method != expected:
            reply = error_bodies.ErrorReply(
                405, error_bodies.envelope(405, "Method Not Allowed", None)
            )
            self._send_error(record, reply)
            return
        if path != "/models" and not self._authorized(record):
            return
        if bad_json:
            self._send_error(record, error_bodies.bad_request("Invalid JSON in request body"))
            return
        if path not in {"/chat/completions", "/messages", "/generation"}:
            fault = self.sim.take_fault(path, None, PRE_STREAM_KINDS)
            if fault is not None:
                record.faults.append(fault.kind)
                self._send_error(record, self._pre_stream_error(fault, "", "", ""))
                return
        handler(record, body)

    def _authorized(self, record: RecordedRequest) -> bool:
        header = self.headers.get("Authorization") or ""
        scheme, _, key = header.partition(" ")
        key = key.strip()
        if scheme.lower() != "bearer" or not key:
            self._send_error(record, error_bodies.unauthorized(missing=True))
            return False
        valid = self.sim.config.valid_keys
        if valid is not None and key not in valid:
            self._send_error(record, error_bodies.unauthorized(missing=False))
            return False
        return True

    def _caller_key(self) -> str:
        return (self.headers.get("Authorization") or "").partition(" ")[2].strip()

    def _start(self, record: RecordedRequest, status: int, headers: dict[str, str]) -> None:
        self.send_response(status)
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header(
            "Access-Control-Expose-Headers", "X-Generation-Id,X-Provider-Name,request-id"
        )
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        record.status = status

    def _start_stream(self, record: RecordedRequest, generation_id: str) -> None:
        headers = {
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "X-Generation-Id": generation_id,
            "Transfer-Encoding": "chunked",
        }
        self._start(record, 200, headers)

    def _send_json(
        self,
        record: RecordedRequest,
        status: int,
        payload: Any,
        headers: dict[str, str] | None = None,
        *,
        chunked: bool = False,
    ) -> None:
        data = dumps(payload).encode()
        all_headers = {"Content-Type": "application/json", **(headers or {})}
        if chunked:
            # Real error bodies come chunked, without Content-Length.
            all_headers["Transfer-Encoding"] = "chunked"
        else:
            all_headers["Content-Length"] = str(len(data))
        self._start(record, status, all_headers)
        if chunked:
            self._write_chunk(data)
            self._end_chunks()
        else:
            self.wfile.write(data)

    @property
    def _anthropic(self) -> bool:
        return self.endpoint == "/messages"

    def _send_error(
        self, record: RecordedRequest, reply: ErrorReply, generation_id: str | None = None
    ) -> None:
        if self._anthropic:
            reply = anthropic.error_reply(reply, generation_id)
        self._send_json(record, reply.status, reply.body, reply.headers, chunked=True)

    def _write_chunk(self, data: bytes) -> None:
        if self.sim.stopping:
            raise _Aborted
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    def _end_chunks(self) -> None:
        self.wfile.write(b"0\r\n\r\n")

    def _event(self, payload: dict[str, Any]) -> None:
        self._write_chunk(b"data: " + dumps(payload).encode() + b"\n\n")

    def _named_event(self, payload: dict[str, Any]) -> None:
        """An Anthropic SSE event: `event: <type>` then its data line."""
        name = str(payload["type"]).encode()
        self._write_chunk(b"event: " + name + b"\ndata: " + dumps(payload).encode() + b"\n\n")

    def _abrupt_close(self) -> None:
        # No terminating chunk: the client sees the connection drop mid-body.
        self.wfile.flush()
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)
        raise _Aborted

    # ------------------------------------------------------------ simple endpoints

    def _models(self, record: RecordedRequest, body: Any) -> None:
        models = self.sim.catalog()
        wanted = [p for p in record.query.get("supported_parameters", "").split(",") if p]
        if wanted:
            models = [
                model
                for model in models
                if set(wanted) <= set(model.get("supported_parameters") or [])
            ]
        self._send_json(record, 200, {"data": models, "total_count": len(models)})

    def _key(self, record: RecordedRequest, body: Any) -> None:
        config = self.sim.config
        spent = self.sim.spent
        usage = config.key_usage + spent
        limit = config.key_limit
        data = {
            "label": config.key_label or mask_key(self._caller_key()),
            "limit": limit,
            "limit_remaining": None if limit is None else limit - usage,
            "limit_reset": None if limit is None else "monthly",
            "include_byok_in_limit": False,
            "usage": usage,
            "usage_daily": spent,
            "usage_weekly": spent,
            "usage_monthly": usage,
            "byok_usage": 0,
            "byok_usage_daily": 0,
            "byok_usage_weekly": 0,
            "byok_usage_monthly": 0,
            "is_free_tier": False,
            "is_management_key": False,
            "is_provisioning_key": False,
            "creator_user_id": error_bodies.USER_ID,
            "expires_at": None,
            "rate_limit": {
                "requests": -1,
                "interval": "10s",
                "note": "This field is deprecated and safe to ignore.",
            },
        }
        self._send_json(record, 200, {"data": data})

    def _credits(self, record: RecordedRequest, body: Any) -> None:
        config = self.sim.config
        data = {
            "total_credits": config.credits_total,
            "total_usage": config.credits_usage + self.sim.spent,
        }
        self._send_json(record, 200, {"data": data})

    def _generation(self, record: RecordedRequest, body: Any) -> None:
        gen_id = record.query.get("id", "")
        if not gen_id:
            self._send_error(record, error_bodies.bad_request("Missing required parameter: id"))
            return
        fault = self.sim.take_fault("/generation", None, ("generation_404", *PRE_STREAM_KINDS))
        if fault is not None:
            record.faults.append(fault.kind)
            if fault.kind != "generation_404":
                self._send_error(record, self._pre_stream_error(fault, "", "", ""))
                return
        data = None if fault is not None else self.sim._lookup_generation(gen_id)
        if data is None:
            self._send_error(record, error_bodies.not_found(f"Generation {gen_id} not found"))
            return
        self._send_json(record, 200, {"data": data})

    # ------------------------------------------------------------ chat completions

    def _pre_stream_error(self, fault: Fault, model: str, provider: str, prompt: str) -> ErrorReply:
        if fault.kind == "rate_limit":
            return error_bodies.rate_limit(fault, model, provider, self.sim.now())
        return error_bodies.http_error(fault, model, provider, prompt)

    def _messages(self, record: RecordedRequest, body: Any) -> None:
        problem = anthropic.invalid(body)
        if problem is not None:
            self._send_error(record, error_bodies.bad_request(problem))
            return
        view, called = anthropic.chat_view(body)
        self._generate(record, view, called)

    def _chat(self, record: RecordedRequest, body: Any) -> None:
        if not isinstance(body, dict):
            body = {}
        messages = body.get("messages")
        prompt = body.get("prompt")
        if not messages and isinstance(prompt, str) and prompt:
            messages = [{"role": "user", "content": prompt}]
        if not messages:
            message = 'Input required: specify "prompt" or "messages"'
            self._send_error(record, error_bodies.bad_request(message))
            return
        if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
            self._send_error(record, error_bodies.bad_request("Invalid request parameters"))
            return
        max_tokens = body.get("max_completion_tokens") or body.get("max_tokens")
        if max_tokens is not None and (
            isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1
        ):
            self._send_error(record, error_bodies.bad_request("Invalid request parameters"))
            return
        body = {**body, "messages": messages}
        self._generate(record, body, called_tools(messages))

    def _generate(
        self, record: RecordedRequest, body: dict[str, Any], called: Counter[str]
    ) -> None:
        """Serve a validated chat-shaped request: the `models` fallbacks, then one answer."""
        messages: list[dict[str, Any]] = body["messages"]
        max_tokens = body.get("max_completion_tokens") or body.get("max_tokens")
        record.stream = body.get("stream") is True
        candidates = self._candidates(body)
        for slug in candidates:
            if self.sim.find_model(slug) is None:
                reply = error_bodies.bad_request(f"{slug} is not a valid model ID")
                self._send_error(record, reply)
                return
        tokens_in = prompt_tokens(messages)
        text = last_user_text(messages)
        failures: list[dict[str, Any]] = []
        last_error: ErrorReply | None = None
        for slug in candidates:
            catalog = self.sim.find_model(slug) or {}
            profile = self.sim.profile(slug, catalog)
            provider = profile.provider or "Simulated"
            record.attempted.append(slug)
            context = catalog.get("context_length") or (catalog.get("top_provider") or {}).get(
                "context_length"
            )
            if context and tokens_in + (max_tokens or 0) > context:
                last_error = error_bodies.context_length(context, tokens_in, max_tokens or 0)
            else:
                fault = self.sim.take_fault(self.endpoint, slug, PRE_STREAM_KINDS)
                if fault is None:
                    self._serve(
                        record, body, slug, catalog, profile, text, tokens_in, failures, called
                    )
                    return
                record.faults.append(fault.kind)
                last_error = self._pre_stream_error(fault, slug, provider, text)
            failures.append(self._attempt(slug, provider, profile, last_error.status))
        assert last_error is not None  # candidates is never empty
        self._send_error(record, last_error)

    def _candidates(self, body: dict[str, Any]) -> list[str]:
        model = body.get("model")
        fallbacks = body.get("models")
        candidates: list[str] = [model] if isinstance(model, str) and model else []
        if isinstance(fallbacks, list):
            candidates += [m for m in fallbacks if isinstance(m, str) and m not in candidates]
        return candidates or [self.sim.config.default_model]

    @staticmethod
    def _attempt(slug: str, provider: str, profile: ModelProfile, status: int) -> dict[str, Any]:
        return {
            "endpoint_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{provider}/{slug}")),
            "id": None,
            "is_byok": False,
            "latency": round(profile.ttft_ms),
            "model_permaslug": slug,
            "provider_name": provider,
            "status": status,
        }

    def _serve(
        self,
        record: RecordedRequest,
        body: dict[str, Any],
        slug: str,
        catalog: dict[str, Any],
        profile: ModelProfile,
        text: str,
        tokens_in: int,
        failures: list[dict[str, Any]],
        called: Counter[str] | None = None,
    ) -> None:
        sim = self.sim
        config = sim.config
        faults: dict[str, Fault] = {}
        for kind in _STREAM_FAULT_KINDS:
            fault = sim.take_fault(self.endpoint, slug, (kind,))
            if fault is not None:
                faults[kind] = fault
                record.faults.append(kind)
        now = sim.now()
        max_tokens = body.get("max_completion_tokens") or body.get("max_tokens")
        gen_id = _new_generation_id(now)
        completion = plan_completion(
            request=body,
            prompt=text,
            prompt_tokens=tokens_in,
            gen_id=gen_id,
            created=int(now),
            model=slug,
            catalog=catalog,
            profile=profile,
            max_tokens=max_tokens,
            max_answer_tokens=config.max_answer_tokens,
            answer_tokens=config.answer_tokens,
            empty="empty_content" in faults,
            tool_call=plan_tool_call(
                body.get("tools"), tool_prompt(body["messages"]), called or Counter(), gen_id
            ),
        )
        record.model = slug
        record.generation_id = completion.id
        attempts = [*failures, self._attempt(slug, completion.provider, profile, 200)]
        if self._anthropic and record.stream:
            self._stream_messages(record, completion, faults, body, attempts)
        elif self._anthropic:
            self._complete_message(record, completion, faults, body, attempts)
        elif record.stream:
            self._stream(record, completion, faults, body, attempts)
        else:
            self._complete(record, completion, faults, body, attempts)

    def _first_token_wait(self, completion: Completion, faults: dict[str, Fault]) -> float:
        wait = completion.profile.ttft_ms / 1000 * self.sim.config.time_scale
        slow = faults.get("slow_first_token")
        # The injected delay is not scaled: it is what a first-token timeout must catch.
        return wait + (slow.delay_ms / 1000 if slow is not None else 0.0)

    def _token_time(self, completion: Completion, tokens: int) -> float:
        speed = completion.profile.tokens_per_s
        return tokens / speed * self.sim.config.time_scale if speed > 0 else 0.0

    def _complete(
        self,
        record: RecordedRequest,
        completion: Completion,
        faults: dict[str, Fault],
        body: dict[str, Any],
        attempts: list[dict[str, Any]],
    ) -> None:
        tokens = len(completion.reasoning_tokens) + len(completion.content_tokens)
        self.sim.sleep(self._first_token_wait(completion, faults))
        self.sim.sleep(self._token_time(completion, tokens))
        headers = {"X-Generation-Id": completion.id}
        if "abrupt_close" in faults:
            self._abrupt_close()
        if "error_200" in faults:
            error = error_bodies.mid_stream_error(faults["error_200"])
            payload = {"error": error, "user_id": error_bodies.USER_ID}
            self._send_json(record, 200, payload, headers)
            return
        if "mid_stream_error" in faults:
            fault = faults["mid_stream_error"]
            sent = min(
                len(completion.content_tokens), fault.after_chunks * self.sim.config.chunk_tokens
            )
            error = error_bodies.mid_stream_error(fault)
            payload = completion.partial_error_response(error, sent)
            # Stored before answering, so /generation works as soon as the client has the id.
            self._remember(record, completion, body, attempts, "error", sent)
            self._send_json(record, 200, payload, headers)
            return
        self._remember(record, completion, body, attempts, completion.finish_reason, None)
        self._send_json(record, 200, completion.response(), headers)

    def _stream(
        self,
        record: RecordedRequest,
        completion: Completion,
        faults: dict[str, Fault],
        body: dict[str, Any],
        attempts: list[dict[str, Any]],
    ) -> None:
        config = self.sim.config
        per_chunk = config.chunk_tokens
        self._start_stream(record, completion.id)
        sent_tokens = 0
        billed = False  # a disconnect after billing must not bill twice
        try:
            keepalive = faults.get("keepalive")
            for _ in range(keepalive.count if keepalive is not None else 0):
                self._write_chunk(KEEPALIVE)
            self.sim.sleep(self._first_token_wait(completion, faults))
            if "error_200" in faults:
                error = error_bodies.mid_stream_error(faults["error_200"])
                self._event(completion.error_chunk(error))
                self._end_chunks()
                return
            for piece in completion.reasoning_chunks(per_chunk):
                self._event(completion.chunk(completion.reasoning_delta(piece)))
                self.sim.sleep(self._token_time(completion, per_chunk))
            failure = faults.get("mid_stream_error") or faults.get("abrupt_close")
            for index, piece in enumerate(completion.content_chunks(per_chunk)):
                if failure is not None and index >= failure.after_chunks:
                    break
                self._event(completion.chunk(completion.content_delta(piece)))
                record.chunks_sent += 1
                sent_tokens = min(len(completion.content_tokens), sent_tokens + per_chunk)
                if index == 0 and keepalive is not None and keepalive.count > 0:
                    self._write_chunk(KEEPALIVE)
                self.sim.sleep(self._token_time(completion, per_chunk))
            tool_delta = completion.tool_call_delta()
            if tool_delta is not None and failure is None:
                self._event(completion.chunk(tool_delta))
            if failure is not None and failure.kind == "abrupt_close":
                self._remember(record, completion, body, attempts, "error", sent_tokens)
                self._abrupt_close()
            if failure is not None:
                self._remember(record, completion, body, attempts, "error", sent_tokens)
                billed = True
                self._event(completion.error_chunk(error_bodies.mid_stream_error(failure)))
                self._end_chunks()
                return
            # Stored before the usage chunk, so /generation works once the client has usage.
            self._remember(record, completion, body, attempts, completion.finish_reason, None)
            billed = True
            for payload in completion.closing_chunks(config.usage_shape):
                self._event(payload)
            self._write_chunk(b"data: [DONE]\n\n")
            self._end_chunks()
        except _DISCONNECTS:
            record.cancelled = True
            self.close_connection = True
            if not billed:
                self._remember(
                    record, completion, body, attempts, None, sent_tokens, cancelled=True
                )

    def _complete_message(
        self,
        record: RecordedRequest,
        completion: Completion,
        faults: dict[str, Fault],
        body: dict[str, Any],
        attempts: list[dict[str, Any]],
    ) -> None:
        """A non-streamed Anthropic `message` (a failed answer is an Anthropic error)."""
        self.sim.sleep(self._first_token_wait(completion, faults))
        self.sim.sleep(self._token_time(completion, completion.output_tokens))
        headers = {"X-Generation-Id": completion.id}
        if "abrupt_close" in faults:
            self._abrupt_close()
        failure = faults.get("error_200") or faults.get("mid_stream_error")
        if failure is not None:
            sent = 0 if failure.kind == "error_200" else failure.after_chunks
            self._remember(record, completion, body, attempts, "error", sent)
            error = error_bodies.mid_stream_error(failure)
            reply = ErrorReply(failure.status, {"error": error}, headers)
            self._send_error(record, reply, completion.id)
            return
        self._remember(record, completion, body, attempts, completion.finish_reason, None)
        self._send_json(record, 200, anthropic.response(completion), headers)

    def _stream_messages(
        self,
        record: RecordedRequest,
        completion: Completion,
        faults: dict[str, Fault],
        body: dict[str, Any],
        attempts: list[dict[str, Any]],
    ) -> None:
        """Anthropic SSE: message_start, ping, each block's start/deltas/stop, message_delta,
        message_stop. Faults count text deltas as the chunks of `after_chunks`."""
        per_chunk = self.sim.config.chunk_tokens
        self._start_stream(record, completion.id)
        sent_tokens = 0
        billed = False
        try:
            keepalive = faults.get("keepalive")
            for _ in range(keepalive.count if keepalive is not None else 0):
                self._write_chunk(KEEPALIVE)
            self.sim.sleep(self._first_token_wait(completion, faults))
            if "error_200" in faults:
                error = error_bodies.mid_stream_error(faults["error_200"])
                self._named_event(anthropic.stream_error(error))
                self._end_chunks()
                return
            self._named_event(anthropic.message_start(completion))
            self._named_event(anthropic.PING)
            failure = faults.get("mid_stream_error") or faults.get("abrupt_close")
            text_deltas = 0
            for kind, events in anthropic.block_events(completion, per_chunk):
                for event in events:
                    is_text = kind == "text" and event["type"] == "content_block_delta"
                    if is_text and failure is not None and text_deltas >= failure.after_chunks:
                        self._remember(record, completion, body, attempts, "error", sent_tokens)
                        billed = True
                        if failure.kind == "abrupt_close":
                            self._abrupt_close()
                        error = error_bodies.mid_stream_error(failure)
                        self._named_event(anthropic.stream_error(error))
                        self._end_chunks()
                        return
                    self._named_event(event)
                    if event["type"] == "content_block_delta":
                        if is_text:
                            text_deltas += 1
                            record.chunks_sent += 1
                            sent_tokens = min(
                                len(completion.content_tokens), sent_tokens + per_chunk
                            )
                        self.sim.sleep(self._token_time(completion, per_chunk))
            self._remember(record, completion, body, attempts, completion.finish_reason, None)
            billed = True
            self._named_event(anthropic.message_delta(completion))
            self._named_event(anthropic.MESSAGE_STOP)
            self._end_chunks()
        except _DISCONNECTS:
            record.cancelled = True
            self.close_connection = True
            if not billed:
                self._remember(
                    record, completion, body, attempts, None, sent_tokens, cancelled=True
                )

    def _remember(
        self,
        record: RecordedRequest,
        completion: Completion,
        body: dict[str, Any],
        attempts: list[dict[str, Any]],
        finish_reason: str | None,
        content_tokens_sent: int | None,
        *,
        cancelled: bool = False,
    ) -> None:
        """Store what /generation will serve for this completion, and bill it."""
        charge = completion.bill(content_tokens_sent)
        data = generation_record(
            completion,
            charge,
            streamed=record.stream,
            cancelled=cancelled,
            finish_reason=finish_reason,
            attempts=attempts,
            request=body,
            referer=self.headers.get("HTTP-Referer"),
            user_agent=self.headers.get("User-Agent"),
        )
        self.sim._store_generation(data, charge.cost)
