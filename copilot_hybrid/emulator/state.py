"""Mutable emulator state, shared by the handler threads and the Python API.

Every method takes the one lock, so a test thread queueing scripts and a
handler thread consuming them never race.
"""

from __future__ import annotations

import dataclasses
import secrets
import string
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from copilot_hybrid.emulator.chat import Plan
from copilot_hybrid.emulator.config import DEFAULT_GITHUB_TOKEN, DEVICE_SCENARIOS, EmulatorConfig
from copilot_hybrid.emulator.messages import PromptCache


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the emulator received it (control API calls excluded)."""

    seq: int
    time: float
    method: str
    #: Full path on the emulator, e.g. "/copilot/chat/completions".
    path: str
    query: str
    #: Lower-case header names.
    headers: Mapping[str, str]
    #: Parsed JSON (or form fields for form posts), else the text, else None.
    body: Any
    status: int
    #: Serial number of the TCP connection it came on (1 = the emulator's first):
    #: requests with the same number shared one kept-alive connection.
    connection: int = 0
    #: Response body bytes written to the socket (without chunked framing), and whether
    #: the whole response went out: None while it is being sent, False when it broke
    #: off (scripted failure, or the client closed the connection).
    sent_bytes: int = 0
    finished: bool | None = None

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "time": self.time,
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "headers": dict(self.headers),
            "body": self.body,
            "status": self.status,
            "connection": self.connection,
            "sent_bytes": self.sent_bytes,
            "finished": self.finished,
        }


@dataclass
class DeviceCode:
    device_code: str
    user_code: str
    client_id: str
    scope: str
    expires_at: float
    interval: int
    scenario: str
    pending_left: int
    last_poll: float | None = None
    slowed: bool = False
    #: pending -> approved/denied (manual scenario) -> consumed
    decision: str = "pending"


@dataclass
class CopilotToken:
    github_token: str
    expires_at: float


@dataclass
class Fault:
    path: str
    method: str | None
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)
    #: Requests left to fail; None = every request until reset.
    times: int | None = 1


_USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ0123456789"
_TOKEN_ALPHABET = string.ascii_letters + string.digits


class EmulatorState:
    def __init__(self, config: EmulatorConfig, clock: Callable[[], float] = time.time) -> None:
        self._lock = threading.Lock()
        # Notified when a response has gone out (or broken off): see wait_sent().
        self._sent = threading.Condition(self._lock)
        self._initial = config
        self._clock = clock
        self.config = config
        self._seq = 0
        # Connections accepted since start; never reset, so connection numbers stay unique.
        self._connections = 0
        self._records: deque[RecordedRequest] = deque(maxlen=config.max_recorded_requests)
        self._scripts: list[Plan] = []
        self._faults: list[Fault] = []
        self._devices: dict[str, DeviceCode] = {}
        # Tokens survive reset(): a running proxy keeps its credentials.
        self._github_tokens: dict[str, str] = {DEFAULT_GITHUB_TOKEN: config.user_login}
        self._copilot_tokens: dict[str, CopilotToken] = {}
        self.premium_used = config.premium_used
        self.prompt_cache = PromptCache()  # has its own lock

    def now(self) -> float:
        return self._clock()

    # -- configuration ------------------------------------------------------

    def configure(self, changes: Mapping[str, Any]) -> EmulatorConfig:
        with self._lock:
            self.config = self.config.updated(changes)
            if "premium_used" in changes:
                self.premium_used = self.config.premium_used
            if "max_recorded_requests" in changes:
                self._records = deque(self._records, maxlen=self.config.max_recorded_requests)
            return self.config

    def reset(self) -> None:
        with self._lock:
            self.config = self._initial
            self._records = deque(maxlen=self.config.max_recorded_requests)
            self._scripts.clear()
            self._faults.clear()
            self._devices.clear()
            self.premium_used = self.config.premium_used
            self.prompt_cache.clear()
            self._github_tokens.setdefault(DEFAULT_GITHUB_TOKEN, self.config.user_login)

    # -- recording ------------------------------------------------------------

    def count_connection(self) -> int:
        """Counts a newly accepted TCP connection; returns its serial number."""
        with self._lock:
            self._connections += 1
            return self._connections

    @property
    def connections_accepted(self) -> int:
        with self._lock:
            return self._connections

    def record(
        self,
        method: str,
        path: str,
        query: str,
        headers: Mapping[str, str],
        body: Any,
        status: int,
        connection: int = 0,
    ) -> RecordedRequest:
        with self._lock:
            self._seq += 1
            entry = RecordedRequest(
                self._seq, self._clock(), method, path, query, dict(headers), body, status, connection
            )
            self._records.append(entry)
            return entry

    def record_sent(self, seq: int, sent_bytes: int, finished: bool) -> None:
        """Notes how much of request `seq`'s response went out (if it is still recorded)."""
        with self._sent:
            index = self._index_of(seq)
            if index is not None:
                entry = self._records[index]
                self._records[index] = dataclasses.replace(entry, sent_bytes=sent_bytes, finished=finished)
            self._sent.notify_all()

    def wait_sent(self, seq: int, timeout: float) -> RecordedRequest | None:
        """Request `seq`'s record once its response has gone out or broken off; None
        after `timeout` seconds, or when it is no longer recorded."""

        def sent() -> bool:
            index = self._index_of(seq)
            return index is None or self._records[index].finished is not None

        with self._sent:
            if not self._sent.wait_for(sent, timeout):
                return None
            index = self._index_of(seq)
            return None if index is None else self._records[index]

    def _index_of(self, seq: int) -> int | None:
        """Where record `seq` is (searched from the newest end); the lock is held."""
        for index in range(len(self._records) - 1, -1, -1):
            entry = self._records[index]
            if entry.seq == seq:
                return index
            if entry.seq < seq:
                return None
        return None

    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._records)

    def clear_requests(self) -> None:
        with self._lock:
            self._records.clear()

    # -- scripts and faults ---------------------------------------------------

    def push_scripts(self, plans: list[Plan]) -> int:
        with self._lock:
            self._scripts.extend(plans)
            return len(self._scripts)

    def take_script(self, body: Mapping[str, Any]) -> Plan | None:
        """Pops the first queued script whose `match` accepts this request."""
        with self._lock:
            for i, plan in enumerate(self._scripts):
                if plan.match is None or plan.match.accepts(body):
                    return self._scripts.pop(i)
            return None

    def clear_scripts(self) -> None:
        with self._lock:
            self._scripts.clear()

    def pending_scripts(self) -> int:
        with self._lock:
            return len(self._scripts)

    def add_fault(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def take_fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for i, fault in enumerate(self._faults):
                if fault.path == path and fault.method in (None, method):
                    if fault.times is not None:
                        fault.times -= 1
                        if fault.times <= 0:
                            self._faults.pop(i)
                    return fault
            return None

    # -- GitHub identity ------------------------------------------------------

    def add_github_token(self, token: str, login: str | None = None) -> None:
        with self._lock:
            self._github_tokens[token] = login or self.config.user_login

    def github_login(self, token: str) -> str | None:
        with self._lock:
            login = self._github_tokens.get(token)
            # The default token follows user_login so configure() renames it.
            if login is not None and token == DEFAULT_GITHUB_TOKEN:
                return self.config.user_login
            return login

    def revoke_github_token(self, token: str) -> None:
        with self._lock:
            self._github_tokens.pop(token, None)

    # -- device flow ----------------------------------------------------------

    def new_device_code(self, client_id: str, scope: str) -> DeviceCode:
        with self._lock:
            cfg = self.config
            user_code = "".join(secrets.choice(_USER_CODE_ALPHABET) for _ in range(8))
            code = DeviceCode(
                device_code=secrets.token_hex(20),
                user_code=f"{user_code[:4]}-{user_code[4:]}",
                client_id=client_id,
                scope=scope,
                expires_at=self._clock() + cfg.device_code_ttl,
                interval=cfg.device_interval,
                scenario=cfg.device_flow_scenario,
                pending_left=cfg.device_pending_polls,
            )
            self._devices[code.device_code] = code
            return code

    def set_device_scenario(self, code: str, scenario: str) -> None:
        """Overrides the scenario of one device code (device or user code)."""
        if scenario not in DEVICE_SCENARIOS:
            raise ValueError(f"scenario must be one of {DEVICE_SCENARIOS}")
        with self._lock:
            device = self._find_device(code)
            if device is None:
                raise KeyError(code)
            device.scenario = scenario

    def has_device(self, code: str) -> bool:
        with self._lock:
            return self._find_device(code) is not None

    def decide_device(self, code: str, approve: bool) -> None:
        """Approves or denies a device code, as the user would in the browser."""
        with self._lock:
            device = self._find_device(code)
            if device is None:
                raise KeyError(code)
            device.decision = "approved" if approve else "denied"

    def _find_device(self, code: str) -> DeviceCode | None:
        if code in self._devices:
            return self._devices[code]
        return next((d for d in self._devices.values() if d.user_code == code.upper()), None)

    def devices(self) -> list[dict[str, Any]]:
        with self._lock:
            return [
                {
                    "device_code": d.device_code,
                    "user_code": d.user_code,
                    "scenario": d.scenario,
                    "decision": d.decision,
                    "interval": d.interval,
                    "expires_at": d.expires_at,
                }
                for d in self._devices.values()
            ]

    def poll_device(self, device_code: str) -> dict[str, Any]:
        """One poll of /login/oauth/access_token: the OAuth fields to answer with."""
        with self._lock:
            cfg = self.config
            now = self._clock()
            device = self._devices.get(device_code)
            if device is None or device.decision == "consumed":
                return oauth_error("incorrect_device_code")
            if now >= device.expires_at:
                return oauth_error("expired_token")
            too_fast = device.last_poll is not None and now - device.last_poll < device.interval
            device.last_poll = now
            if too_fast or (device.scenario == "slow_down" and not device.slowed):
                device.slowed = True
                device.interval += cfg.device_slow_down_increment
                return {**oauth_error("slow_down"), "interval": device.interval}
            if device.decision == "denied":
                return oauth_error("access_denied")
            if device.decision != "approved":
                if device.pending_left > 0 or device.scenario == "manual":
                    device.pending_left = max(0, device.pending_left - 1)
                    return oauth_error("authorization_pending")
                if device.scenario == "expired":
                    return oauth_error("expired_token")
                if device.scenario == "denied":
                    return oauth_error("access_denied")
            device.decision = "consumed"
            token = "gho_" + "".join(secrets.choice(_TOKEN_ALPHABET) for _ in range(36))
            self._github_tokens[token] = cfg.user_login
            return {"access_token": token, "token_type": "bearer", "scope": device.scope}

    # -- Copilot tokens -------------------------------------------------------

    def issue_copilot_token(self, github_token: str) -> tuple[str, float]:
        with self._lock:
            expires = self._clock() + self.config.copilot_token_ttl
            tid = secrets.token_hex(16)
            sig = secrets.token_hex(32)
            token = (
                f"tid={tid};exp={int(expires)};sku=copilot_{self.config.copilot_plan};"
                f"st=dotcom;chat=1;malfil=1;rt=1;8kp=1:{sig}"
            )
            self._copilot_tokens[token] = CopilotToken(github_token, expires)
            return token, expires

    def copilot_token_status(self, token: str) -> str:
        """ "ok", "expired" or "unknown"."""
        with self._lock:
            entry = self._copilot_tokens.get(token)
            if entry is None:
                return "unknown"
            if self._clock() >= entry.expires_at:
                return "expired"
            return "ok"

    def expire_copilot_tokens(self) -> int:
        """Makes every Copilot token issued so far expired; returns how many."""
        with self._lock:
            now = self._clock()
            for entry in self._copilot_tokens.values():
                entry.expires_at = min(entry.expires_at, now)
            return len(self._copilot_tokens)

    # -- quota ----------------------------------------------------------------

    def charge_premium(self, amount: float) -> None:
        with self._lock:
            self.premium_used += amount


_OAUTH_ERRORS = {
    "authorization_pending": "The authorization request is still pending.",
    "slow_down": "Too many requests have been made in the same timeframe.",
    "expired_token": "The device code has expired.",
    "access_denied": "The authorization request was denied.",
    "incorrect_device_code": "The device_code provided is not valid.",
    "unsupported_grant_type": "The grant type is not supported.",
    "incorrect_client_credentials": "The client_id is not valid.",
}


def oauth_error(error: str) -> dict[str, Any]:
    """A GitHub OAuth error body (GitHub sends these with status 200)."""
    return {
        "error": error,
        "error_description": _OAUTH_ERRORS[error],
        "error_uri": "https://docs.github.com/developers/apps/authorizing-oauth-apps#error-codes-for-the-device-flow",
    }
