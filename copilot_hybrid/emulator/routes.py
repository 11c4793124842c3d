"""The emulator's endpoints: GitHub web, GitHub API, Copilot, and control.

`EmulatorApp.handle` is the single entry point: it applies injected faults,
dispatches, records the request, and turns unexpected exceptions into 500s.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import parse_qs, urlencode

from copilot_hybrid.emulator import chat, messages, responses
from copilot_hybrid.emulator.catalog import EMBEDDING_DIMENSIONS, default_models
from copilot_hybrid.emulator.config import DEFAULT_GITHUB_TOKEN
from copilot_hybrid.emulator.embeddings import embeddings_response
from copilot_hybrid.emulator.http import (
    AbortConnection,
    Request,
    Response,
    Waiter,
    json_response,
)
from copilot_hybrid.emulator.http import (
    copilot_error as _copilot_error,
)
from copilot_hybrid.emulator.state import EmulatorState, Fault, oauth_error
from copilot_hybrid.jsonutil import dumps

GITHUB_API_PREFIX = "/api"
COPILOT_PREFIX = "/copilot"
CONTROL_PREFIX = "/_emulator"
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"

Handler = Callable[[Request], Response]


class EmulatorApp:
    def __init__(self, state: EmulatorState, waiter: Waiter) -> None:
        self.state = state
        self.waiter = waiter
        self._routes: dict[str, dict[str, Handler]] = {
            "/login/device/code": {"POST": self._device_code},
            "/login/oauth/access_token": {"POST": self._access_token},
            "/login/device": {"GET": self._device_page},
            "/api/user": {"GET": self._user},
            "/api/copilot_internal/v2/token": {"GET": self._copilot_token},
            "/api/copilot_internal/user": {"GET": self._usage},
            "/copilot/models": {"GET": self._models},
            "/copilot/chat/completions": {"POST": self._chat},
            "/copilot/responses": {"POST": lambda request: responses.handle(self, request)},
            "/copilot/embeddings": {"POST": self._embeddings},
            "/copilot/v1/messages": {"POST": self._messages},
            "/copilot/v1/messages/count_tokens": {"POST": self._count_tokens},
        }
        self._control_routes: dict[str, dict[str, Handler]] = {
            "": {"GET": self._control_info},
            "/requests": {"GET": self._control_requests, "DELETE": self._control_clear_requests},
            "/script": {
                "GET": self._control_script_info,
                "POST": self._control_script,
                "DELETE": self._control_script_clear,
            },
            "/reset": {"POST": self._control_reset},
            "/config": {"GET": self._control_config, "POST": self._control_config},
            "/faults": {"POST": self._control_fault},
            "/device": {"GET": self._control_devices, "POST": self._control_device},
            "/expire-tokens": {"POST": self._control_expire},
            "/github-tokens": {"POST": self._control_github_token},
        }

    # -- dispatch -------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        if request.path == CONTROL_PREFIX or request.path.startswith(CONTROL_PREFIX + "/"):
            return self._dispatch(self._control_routes, request.path[len(CONTROL_PREFIX) :], request, _control_error)
        fault = self.state.take_fault(request.method, request.path)
        if fault is not None:
            response = _fault_response(fault)
        else:
            response = self._dispatch(self._routes, request.path, request, _upstream_error)
        entry = self.state.record(
            request.method,
            request.path,
            request.query,
            request.headers,
            _body_for_record(request),
            response.status,
            request.connection,
        )
        response.record = entry.seq
        return response

    def _dispatch(
        self,
        table: Mapping[str, Mapping[str, Handler]],
        path: str,
        request: Request,
        error: Callable[[int, str], Response],
    ) -> Response:
        methods = table.get(path)
        if methods is None:
            return error(404, "Not Found")
        handler = methods.get(request.method)
        if handler is None:
            return error(405, f"Method {request.method} not allowed")
        try:
            return handler(request)
        except Exception as exc:  # noqa: BLE001 - a bug here must still answer, not hang the client
            return error(500, f"emulator error: {type(exc).__name__}: {exc}")

    # -- GitHub web: device flow ----------------------------------------------

    def _oauth_response(self, request: Request, status: int, fields: Mapping[str, Any]) -> Response:
        # GitHub answers form-encoded unless the client asks for JSON.
        if request.wants_json():
            return json_response(status, fields)
        return Response(
            status=status,
            body=urlencode({k: str(v) for k, v in fields.items()}).encode(),
            headers={"content-type": "application/x-www-form-urlencoded; charset=utf-8"},
        )

    def _device_code(self, request: Request) -> Response:
        params = _params(request)
        client_id = params.get("client_id")
        if not client_id:
            return self._oauth_response(request, 400, oauth_error("incorrect_client_credentials"))
        code = self.state.new_device_code(client_id, params.get("scope", ""))
        return self._oauth_response(
            request,
            200,
            {
                "device_code": code.device_code,
                "user_code": code.user_code,
                "verification_uri": f"{request.origin}/login/device",
                "expires_in": int(self.state.config.device_code_ttl),
                "interval": code.interval,
            },
        )

    def _access_token(self, request: Request) -> Response:
        params = _params(request)
        if not params.get("client_id"):
            fields = oauth_error("incorrect_client_credentials")
        elif params.get("grant_type") != DEVICE_GRANT:
            fields = oauth_error("unsupported_grant_type")
        else:
            fields = self.state.poll_device(params.get("device_code", ""))
        # Device-flow errors come with status 200, as on github.com.
        return self._oauth_response(request, 200, fields)

    def _device_page(self, request: Request) -> Response:
        text = (
            "<!doctype html><title>Emulated device activation</title>"
            "<p>copilot-hybrid emulator: device codes are approved automatically "
            "(see docs/emulator.md for the other scenarios).</p>"
        )
        return Response(200, text.encode(), {"content-type": "text/html; charset=utf-8"})

    # -- GitHub API -----------------------------------------------------------

    def _github_auth(self, request: Request, *, token_scheme_only: bool) -> str | Response:
        """The GitHub token of the request, or the 401 GitHub would send."""
        value = request.header("authorization") or ""
        scheme, _, token = value.partition(" ")
        schemes = ("token",) if token_scheme_only else ("token", "bearer")
        if not token or scheme.lower() not in schemes:
            hint = "authorization: token <github token>" if token_scheme_only else "a token"
            return _github_error(401, f"Requires authentication ({hint})")
        if self.state.github_login(token.strip()) is None:
            return _github_error(401, "Bad credentials")
        return token.strip()

    def _user(self, request: Request) -> Response:
        token = self._github_auth(request, token_scheme_only=False)
        if isinstance(token, Response):
            return token
        login = self.state.github_login(token) or ""
        user_id = int.from_bytes(hashlib.sha256(login.encode()).digest()[:3], "big") + 1_000_000
        return json_response(
            200,
            {
                "login": login,
                "id": user_id,
                "node_id": f"U_emulated{user_id}",
                "avatar_url": f"{request.origin}/avatars/{login}",
                "html_url": f"{request.origin}/{login}",
                "type": "User",
                "site_admin": False,
                "name": "Emulated User",
                "company": None,
                "email": None,
                "created_at": "2020-01-01T00:00:00Z",
            },
            {"x-oauth-scopes": "read:user"},
        )

    def _copilot_token(self, request: Request) -> Response:
        token = self._github_auth(request, token_scheme_only=True)
        if isinstance(token, Response):
            return token
        cfg = self.state.config
        copilot_token, expires = self.state.issue_copilot_token(token)
        api = f"{request.origin}{COPILOT_PREFIX}"
        login = self.state.github_login(token) or ""
        return json_response(
            200,
            {
                "annotations_enabled": True,
                "chat_enabled": True,
                "chat_jetbrains_enabled": True,
                "code_quote_enabled": True,
                "code_review_enabled": True,
                "codesearch": False,
                "copilotignore_enabled": False,
                "endpoints": {
                    "api": api,
                    "origin-tracker": f"{api}/origin-tracker",
                    "proxy": api,
                    "telemetry": f"{api}/telemetry",
                },
                "expires_at": int(expires),
                "individual": cfg.copilot_plan == "individual",
                "limited_user_quotas": None,
                "limited_user_reset_date": None,
                "prompt_8k": True,
                "public_suggestions": "disabled",
                "refresh_in": cfg.refresh_in,
                "sku": f"copilot_{cfg.copilot_plan}",
                "snippy_load_test_enabled": False,
                "telemetry": "disabled",
                "token": copilot_token,
                "tracking_id": hashlib.sha256(login.encode()).hexdigest()[:32],
                "vsc_electron_fetcher_v2": False,
                "xcode": True,
                "xcode_chat": False,
            },
        )

    def _usage(self, request: Request) -> Response:
        token = self._github_auth(request, token_scheme_only=True)
        if isinstance(token, Response):
            return token
        cfg = self.state.config
        now = dt.datetime.fromtimestamp(self.state.now(), dt.UTC)
        reset = (now.replace(day=1) + dt.timedelta(days=32)).replace(day=1).date()
        entitlement = cfg.premium_entitlement
        remaining = max(0.0, entitlement - self.state.premium_used)
        percent = 100.0 * remaining / entitlement if entitlement else 0.0
        stamp = now.strftime("%Y-%m-%dT%H:%M:%S.000Z")

        def unlimited(quota_id: str) -> dict[str, Any]:
            return {
                "entitlement": 0,
                "overage_count": 0,
                "overage_permitted": False,
                "percent_remaining": 100.0,
                "quota_id": quota_id,
                "quota_remaining": 0.0,
                "remaining": 0,
                "timestamp_utc": stamp,
                "unlimited": True,
            }

        return json_response(
            200,
            {
                "access_type_sku": f"copilot_{cfg.copilot_plan}",
                "analytics_tracking_id": hashlib.sha256(token.encode()).hexdigest()[:32],
                "assigned_date": "2024-01-01T00:00:00+00:00",
                "can_signup_for_limited": False,
                "chat_enabled": True,
                "copilot_plan": cfg.copilot_plan,
                "organization_login_list": [],
                "organization_list": [],
                "quota_reset_date": reset.isoformat(),
                "quota_reset_date_utc": f"{reset.isoformat()}T00:00:00.000Z",
                "quota_snapshots": {
                    "chat": unlimited("chat"),
                    "completions": unlimited("completions"),
                    "premium_interactions": {
                        "entitlement": entitlement,
                        "overage_count": 0,
                        "overage_permitted": False,
                        "percent_remaining": round(percent, 4),
                        "quota_id": "premium_interactions",
                        "quota_remaining": round(remaining, 4),
                        "remaining": int(remaining),
                        "timestamp_utc": stamp,
                        "unlimited": False,
                    },
                },
            },
        )

    # -- Copilot --------------------------------------------------------------

    def _copilot_checks(self, request: Request) -> Response | None:
        """The 401/400 the real Copilot API sends before looking at the body."""
        value = request.header("authorization") or ""
        scheme, _, token = value.partition(" ")
        if not token or scheme.lower() != "bearer":
            return _copilot_error(401, "unauthorized: missing or malformed bearer token", "unauthorized")
        status = self.state.copilot_token_status(token.strip())
        if status == "expired":
            return _copilot_error(401, "unauthorized: token expired", "token_expired")
        if status != "ok":
            return _copilot_error(401, "unauthorized: invalid token", "unauthorized")
        if self.state.config.require_editor_version and not request.header("editor-version"):
            return _copilot_error(400, "bad request: missing Editor-Version header for IDE auth", "bad_request")
        return None

    def _models_list(self) -> list[dict[str, Any]]:
        custom = self.state.config.models
        models = default_models() if custom is None else [dict(m) for m in custom]
        hidden = self.state.config.unavailable_models
        return [m for m in models if m.get("id") not in hidden] if hidden else models

    def _find_model(self, model_id: Any) -> dict[str, Any] | None:
        return next((m for m in self._models_list() if m.get("id") == model_id), None)

    def _models(self, request: Request) -> Response:
        failure = self._copilot_checks(request)
        if failure is not None:
            return failure
        return json_response(200, {"data": self._models_list(), "object": "list"})

    def _json_body(self, request: Request) -> dict[str, Any] | Response:
        try:
            body = request.json()
        except (ValueError, UnicodeDecodeError) as exc:
            return _copilot_error(400, f"invalid JSON body: {exc}", "invalid_request_body")
        if not isinstance(body, dict):
            return _copilot_error(400, "request body must be a JSON object", "invalid_request_body")
        return body

    def _model_request(self, request: Request, kind: str) -> tuple[dict[str, Any], dict[str, Any]] | Response:
        """Auth checks, a JSON object body and a listed model of `kind`, or the error answer."""
        failure = self._copilot_checks(request)
        if failure is not None:
            return failure
        body = self._json_body(request)
        if isinstance(body, Response):
            return body
        model = self._find_model(body.get("model"))
        if model is None or _model_type(model) != kind:
            return _copilot_error(400, "The requested model is not supported.", "model_not_supported", "model")
        return body, model

    def _chat(self, request: Request) -> Response:
        checked = self._model_request(request, "chat")
        if isinstance(checked, Response):
            return checked
        body, model = checked
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            return _copilot_error(400, "messages must be a non-empty array", "invalid_request_body")
        supports = model.get("capabilities", {}).get("supports", {})
        if chat.has_images(messages):
            if not supports.get("vision"):
                return _copilot_error(400, "The model does not support vision.", "model_not_supported")
            if (
                self.state.config.require_vision_header
                and (request.header("copilot-vision-request") or "").lower() != "true"
            ):
                return _copilot_error(
                    400,
                    "missing required Copilot-Vision-Request header for vision requests",
                    "bad_request",
                )
        unsigned = chat.unverifiable_reasoning(messages) if model.get("vendor") == "Anthropic" else None
        if unsigned is not None:
            return _copilot_error(
                400,
                f"messages.{unsigned}.reasoning_opaque: Invalid signature for reasoning_text",
                "invalid_request_body",
            )
        limit = model.get("capabilities", {}).get("limits", {}).get("max_prompt_tokens")
        prompt_tokens = chat.estimate_prompt_tokens(body)
        if isinstance(limit, int) and prompt_tokens > limit:
            return _copilot_error(
                400,
                f"prompt token count of {prompt_tokens} exceeds the limit of {limit}",
                "model_max_prompt_tokens_exceeded",
            )

        plan = self.state.take_script(body) or chat.plan_for_request(body)
        if plan.error is not None:
            return Response(
                status=plan.error.status,
                body=_raw(plan.error.body),
                headers={"content-type": "application/json", **plan.error.headers},
                delay=plan.delay,
            )
        # Premium requests are billed per user turn; agent follow-ups are free.
        if (request.header("x-initiator") or "user").lower() != "agent":
            self.state.charge_premium(float(model.get("billing", {}).get("multiplier", 0) or 0))

        if body.get("stream") and not plan.no_stream:
            return self._chat_stream(body, plan, model)
        if plan.raw_body_given:
            payload = _raw(plan.raw_body)
        else:
            payload = dumps(chat.render_json(chat.build_completion(body, plan, model, now=self.state.now())))
        headers = {"content-type": "application/json"}
        if plan.fail_after is not None:
            # Promise the whole body, send half, hang up.
            return Response(
                200,
                headers=headers,
                stream=_truncated(payload),
                length=len(payload),
                delay=plan.delay,
            )
        return Response(200, payload, headers, delay=plan.delay)

    def _chat_stream(self, body: Mapping[str, Any], plan: chat.Plan, model: Mapping[str, Any]) -> Response:
        if plan.raw_chunks is not None:
            events = [chat.sse(c) for c in plan.raw_chunks]
        else:
            completion = chat.build_completion(body, plan, model, now=self.state.now())
            events = [
                chat.sse(json.dumps(c, separators=(",", ":"), ensure_ascii=False))
                for c in chat.render_chunks(completion, self.state.config.stream_usage)
            ]
            events.append(chat.sse("[DONE]"))
        return Response(
            200,
            headers={"content-type": "text/event-stream", "cache-control": "no-cache"},
            stream=self._paced(events, plan),
            delay=plan.delay,
        )

    def _paced(self, events: list[bytes], plan: chat.Plan) -> Iterator[bytes]:
        fail_at = None if plan.fail_after is None else min(plan.fail_after, len(events) - 1)
        for i, event in enumerate(events):
            if i == fail_at:
                raise AbortConnection("scripted mid-stream failure")
            if i and plan.chunk_delay:
                self.waiter.sleep(plan.chunk_delay)
            if plan.stall and i == plan.stall_after:
                self.waiter.sleep(plan.stall)
            yield event

    def _messages(self, request: Request) -> Response:
        checked = self._model_request(request, "chat")
        if isinstance(checked, Response):
            return checked
        body, model = checked
        return messages.answer_messages(self.state, request, body, model, self._paced)

    def _count_tokens(self, request: Request) -> Response:
        failure = self._copilot_checks(request)
        if failure is not None:
            return failure
        body = self._json_body(request)
        if isinstance(body, Response):
            return body
        return messages.answer_count_tokens(body, self._find_model)

    def _embeddings(self, request: Request) -> Response:
        checked = self._model_request(request, "embeddings")
        if isinstance(checked, Response):
            return checked
        body, model = checked
        dimensions = body.get("dimensions", EMBEDDING_DIMENSIONS)
        if isinstance(dimensions, bool) or not isinstance(dimensions, int) or not 1 <= dimensions <= 4096:
            return _copilot_error(400, "dimensions must be an integer from 1 to 4096", "invalid_request_body")
        if "dimensions" in body and not model.get("capabilities", {}).get("supports", {}).get("dimensions"):
            return _copilot_error(400, "This model does not support specifying dimensions.", "invalid_request_body")
        try:
            payload = embeddings_response(body, str(model["id"]), dimensions)
        except ValueError as exc:
            return _copilot_error(400, str(exc), "invalid_request_body", "input")
        return json_response(200, payload)

    # -- control API ----------------------------------------------------------

    def _control_info(self, request: Request) -> Response:
        origin = request.origin
        return json_response(
            200,
            {
                "ok": True,
                "github_url": origin,
                "github_api_url": f"{origin}{GITHUB_API_PREFIX}",
                "copilot_url": f"{origin}{COPILOT_PREFIX}",
                "default_github_token": DEFAULT_GITHUB_TOKEN,
                "pending_scripts": self.state.pending_scripts(),
                "connections_accepted": self.state.connections_accepted,
            },
        )

    def _control_requests(self, request: Request) -> Response:
        query = request.query_params()
        records = [
            r.to_json()
            for r in self.state.requests()
            if ("path" not in query or r.path == query["path"])
            and ("method" not in query or r.method == query["method"].upper())
        ]
        return json_response(200, {"requests": records})

    def _control_clear_requests(self, request: Request) -> Response:
        self.state.clear_requests()
        return json_response(200, {"ok": True})

    def _control_script_info(self, request: Request) -> Response:
        return json_response(200, {"pending": self.state.pending_scripts()})

    def _control_script(self, request: Request) -> Response:
        body = _control_json(request)
        items = body.get("responses") if isinstance(body, dict) else body
        if not isinstance(items, list):
            return _control_error(400, "expected a list of responses or {'responses': [...]}")
        try:
            plans = [chat.plan_from_script(item) for item in items]
        except ValueError as exc:
            return _control_error(400, str(exc))
        pending = self.state.push_scripts(plans)
        return json_response(200, {"queued": len(plans), "pending": pending})

    def _control_script_clear(self, request: Request) -> Response:
        self.state.clear_scripts()
        return json_response(200, {"pending": self.state.pending_scripts()})

    def _control_reset(self, request: Request) -> Response:
        self.state.reset()
        return json_response(200, {"ok": True})

    def _control_config(self, request: Request) -> Response:
        if request.method == "POST":
            body = _control_json(request)
            if not isinstance(body, dict):
                return _control_error(400, "expected a JSON object of config keys")
            try:
                self.state.configure(body)
            except ValueError as exc:
                return _control_error(400, str(exc))
        return json_response(200, self.state.config.to_json())

    def _control_fault(self, request: Request) -> Response:
        body = _control_json(request)
        try:
            fault = fault_from_json(body)
        except ValueError as exc:
            return _control_error(400, str(exc))
        self.state.add_fault(fault)
        return json_response(200, {"ok": True})

    def _control_devices(self, request: Request) -> Response:
        return json_response(200, {"devices": self.state.devices()})

    def _control_device(self, request: Request) -> Response:
        body = _control_json(request)
        if not isinstance(body, dict) or not isinstance(body.get("code"), str):
            return _control_error(400, "expected {'code': <device or user code>, ...}")
        if not self.state.has_device(body["code"]):
            return _control_error(404, "unknown device code")
        try:
            if "scenario" in body:
                self.state.set_device_scenario(body["code"], str(body["scenario"]))
            action = body.get("action")
            if action is not None:
                if action not in ("approve", "deny"):
                    return _control_error(400, "action must be 'approve' or 'deny'")
                self.state.decide_device(body["code"], action == "approve")
        except KeyError:
            return _control_error(404, "unknown device code")
        except ValueError as exc:
            return _control_error(400, str(exc))
        return json_response(200, {"ok": True})

    def _control_expire(self, request: Request) -> Response:
        return json_response(200, {"expired": self.state.expire_copilot_tokens()})

    def _control_github_token(self, request: Request) -> Response:
        body = _control_json(request)
        if not isinstance(body, dict) or not isinstance(body.get("token"), str) or not body["token"]:
            return _control_error(400, "expected {'token': <string>, 'login'?: <string>}")
        login = body.get("login")
        self.state.add_github_token(body["token"], login if isinstance(login, str) else None)
        return json_response(200, {"ok": True})


# ---------------------------------------------------------------------------
# helpers


def fault_from_json(body: Any) -> Fault:
    if not isinstance(body, Mapping):
        raise ValueError("a fault must be an object")
    path, status = body.get("path"), body.get("status")
    if not isinstance(path, str) or not path.startswith("/"):
        raise ValueError("fault.path must be an emulator path such as /copilot/models")
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        raise ValueError("fault.status must be an HTTP status code")
    method = body.get("method")
    if method is not None and not isinstance(method, str):
        raise ValueError("fault.method must be a string")
    times = body.get("times", 1)
    if times is not None and (isinstance(times, bool) or not isinstance(times, int) or times < 1):
        raise ValueError("fault.times must be a positive integer or null (always)")
    headers = body.get("headers") or {}
    if not isinstance(headers, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
    ):
        raise ValueError("fault.headers must map strings to strings")
    default_body = {"error": {"message": f"Injected fault {status}.", "code": "injected_fault"}}
    return Fault(
        path=path,
        method=method.upper() if method else None,
        status=status,
        body=body.get("body", default_body),
        headers={k.lower(): v for k, v in headers.items()},
        times=times,
    )


def _fault_response(fault: Fault) -> Response:
    headers = {"content-type": "application/json", **fault.headers}
    return Response(fault.status, _raw(fault.body), headers)


def _raw(value: Any) -> bytes:
    """A scripted body: strings go out verbatim, anything else as JSON."""
    return value.encode("utf-8") if isinstance(value, str) else dumps(value)


def _truncated(payload: bytes) -> Iterator[bytes]:
    yield payload[: len(payload) // 2]
    raise AbortConnection("scripted mid-body failure")


def _model_type(model: Mapping[str, Any]) -> str:
    return str(model.get("capabilities", {}).get("type", "chat"))


def _params(request: Request) -> dict[str, str]:
    """OAuth parameters: GitHub takes them as JSON, as a form, or in the query."""
    params = request.query_params()
    text = request.body.decode("utf-8", "replace").strip()
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            data = {}
        if isinstance(data, dict):
            params.update({k: str(v) for k, v in data.items() if v is not None})
    elif text:
        params.update({k: v[-1] for k, v in parse_qs(text).items()})
    return params


def _body_for_record(request: Request) -> Any:
    if not request.body:
        return None
    try:
        return request.json()
    except (ValueError, UnicodeDecodeError):
        pass
    text = request.body.decode("utf-8", "replace")
    if "application/x-www-form-urlencoded" in (request.header("content-type") or ""):
        return {k: v[-1] for k, v in parse_qs(text).items()}
    return text


def _control_json(request: Request) -> Any:
    try:
        return request.json() if request.body else {}
    except (ValueError, UnicodeDecodeError):
        return None


def _github_error(status: int, message: str) -> Response:
    return json_response(
        status,
        {"message": message, "documentation_url": "https://docs.github.com/rest", "status": str(status)},
    )


def _upstream_error(status: int, message: str) -> Response:
    return json_response(status, {"message": message, "status": str(status)})


def _control_error(status: int, message: str) -> Response:
    return json_response(status, {"error": message})
