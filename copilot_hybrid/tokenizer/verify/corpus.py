"""The tokenizer corpus: about 6 MB of real text found on this machine plus
synthetic chat request bodies and log lines, built deterministically in a few
seconds and kept out of git (build/corpus/ in a source checkout). It is the
one harvester of real text: verify, the tests and bench all read it.

Sources, each with a byte budget, files in a fixed pseudo-random order
(sha256 of the path), every document cut at DOC_CAP bytes:
  python    the CPython standard library (.py), including its tests
  c         C headers under /usr/include
  perl      Perl modules (/usr/share/perl*, /usr/lib/*/perl*)
  javascript  npm's own sources (/usr/lib/node_modules)
  zig       the Zig standard library of the `ziglang` package, when installed
  prose     /usr/share/doc: READMEs, changelogs, NEWS, copyright (gzip too)
  man       man page sources (troff), English and translated
  gettext   translated strings of .mo catalogs, grouped per language, many scripts
  cjk       CPython's test/cjkencodings/*-utf8.txt
  chat      synthetic OpenAI / Anthropic JSON request bodies built from the above
  logs      synthetic server log lines

`meta.json` records the sha256 of documents.jsonl and the composition; a
corpus whose hash or builder version does not match is rebuilt. The content
depends on what the machine has installed, so the hash differs between
machines; on one machine it is stable.
"""

from __future__ import annotations

import datetime as _dt
import gzip
import hashlib
import json
import os
import platform
import random
import sys
import sysconfig
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from copilot_hybrid import config

BUILDER_VERSION = 1
DOC_CAP = 64 * 1024
MIN_BYTES = 5_000_000
DOCUMENTS = "documents.jsonl"
META = "meta.json"

PACKAGE_DIR = Path(__file__).resolve().parents[2]

# Languages first in line for the gettext share: one or two per script.
_PREFERRED_LANGUAGES = (
    "de", "fr", "es", "pl", "tr", "vi", "ru", "uk", "el", "ja", "zh_CN", "zh_TW", "ko", "ar", "he",
    "fa", "hi", "bn", "ta", "te", "th", "ka", "hy", "am", "km", "my", "si", "ml", "gu", "pa", "kn",
    "mr", "ne", "lo", "bo", "ug", "ur", "sr", "be", "bg", "mk", "kk", "mn",
)  # fmt: skip


@dataclass(frozen=True)
class CorpusDocument:
    kind: str
    source: str
    text: str


@dataclass(frozen=True)
class Corpus:
    directory: Path
    documents: list[CorpusDocument]
    meta: dict[str, Any]

    def texts(self, kind: str | None = None) -> list[str]:
        return [d.text for d in self.documents if kind is None or d.kind == kind]


def corpus_dir() -> Path:
    """$COPILOT_HYBRID_CORPUS_DIR, else build/corpus in a source checkout,
    else `corpus` in the data dir."""
    override = config.env(config.CORPUS_DIR_ENV)
    if override:
        return Path(override).expanduser()
    checkout = PACKAGE_DIR.parent
    if (checkout / "pyproject.toml").is_file() and os.access(checkout, os.W_OK):
        return checkout / "build" / "corpus"
    return config.data_dir() / "corpus"


# ---- reading files ---------------------------------------------------------------


def _ordered(paths: Iterable[Path]) -> list[Path]:
    """A fixed order that mixes directories: by sha256 of the path."""
    return sorted(paths, key=lambda p: hashlib.sha256(str(p).encode()).hexdigest())


def _read_text(path: Path) -> str:
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as handle:
                data = handle.read(DOC_CAP * 4)
        else:
            with path.open("rb") as handle:
                data = handle.read(DOC_CAP)
    except (OSError, EOFError, gzip.BadGzipFile):
        return ""
    if b"\0" in data[:4096]:
        return ""  # binary
    return _cap(data.decode("utf-8", "replace"))


def _cap(text: str) -> str:
    data = text.encode("utf-8")
    if len(data) <= DOC_CAP:
        return text
    return data[:DOC_CAP].decode("utf-8", "ignore")  # never half a character


def _files(roots: Iterable[str], patterns: Iterable[str]) -> list[Path]:
    found: set[Path] = set()
    for root in roots:
        base = Path(root)
        if not base.is_dir():
            continue
        for pattern in patterns:
            found.update(p for p in base.glob(pattern) if p.is_file() and not p.is_symlink())
    return _ordered(found)


def _from_files(paths: list[Path], budget: int, root_label: Callable[[Path], str]) -> Iterator[tuple[str, str]]:
    used = 0
    for path in paths:
        if used >= budget:
            return
        text = _read_text(path)
        if text.strip():
            used += len(text.encode("utf-8"))
            yield root_label(path), text


def _python_files() -> list[Path]:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    return _ordered(p for p in stdlib.rglob("*.py") if "site-packages" not in p.parts)


def _zig_files() -> list[Path]:
    import importlib.util

    spec = importlib.util.find_spec("ziglang")
    if spec is None or not spec.submodule_search_locations:
        return []
    return _files([str(Path(loc) / "lib" / "std") for loc in spec.submodule_search_locations], ["**/*.zig"])


def _prose_files() -> list[Path]:
    names = ("README", "readme", "changelog", "NEWS", "copyright", "AUTHORS", "TODO", "FAQ", "THANKS")
    return [
        p
        for p in _files(["/usr/share/doc"], ["**/*"])
        if p.name.split(".")[0] in names or p.suffix in (".md", ".txt", ".rst")
    ]


def _mo_strings(path: Path) -> list[str]:
    import gettext

    try:
        with path.open("rb") as handle:
            catalog = gettext.GNUTranslations(handle)
    except (OSError, ValueError, UnicodeDecodeError, IndexError, KeyError):
        return []
    messages: dict[object, object] = getattr(catalog, "_catalog", {})
    return [m for k, m in messages.items() if isinstance(m, str) and m and k != ""]


def _gettext(budget: int, per_language: int = 28_000) -> Iterator[tuple[str, str]]:
    locale = Path("/usr/share/locale")
    if not locale.is_dir():
        return
    languages = sorted(p.name for p in locale.iterdir() if (p / "LC_MESSAGES").is_dir())
    ordered = [lang for lang in _PREFERRED_LANGUAGES if lang in languages]
    ordered += [lang for lang in languages if lang not in ordered]
    used = 0
    for lang in ordered:
        if used >= budget:
            return
        lines: list[str] = []
        size = 0
        for mo in _ordered((locale / lang / "LC_MESSAGES").glob("*.mo")):
            for message in sorted(set(_mo_strings(mo))):
                lines.append(message)
                size += len(message.encode("utf-8")) + 1
                if size >= per_language:
                    break
            if size >= per_language:
                break
        if lines:
            text = _cap("\n".join(lines))
            used += len(text.encode("utf-8"))
            yield f"gettext:{lang}", text


# ---- synthetic material ------------------------------------------------------------


def _snippet(rng: random.Random, texts: list[str], max_len: int) -> str:
    text = texts[rng.randrange(len(texts))]
    start = rng.randrange(max(1, len(text) - 10))
    return text[start : start + rng.randrange(20, max_len)]


_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "read_file",
        "description": "Read a file from the workspace and return its content.",
        "parameters": {
            "type": "object",
            "properties": {
                "path": {"type": "string", "description": "Path relative to the workspace root."},
                "start_line": {"type": "integer", "minimum": 1},
                "encoding": {"type": "string", "enum": ["utf-8", "latin-1"]},
            },
            "required": ["path"],
        },
    },
}


def _chat_body(rng: random.Random, texts: list[str]) -> dict[str, Any]:
    if rng.random() < 0.75:  # OpenAI chat completions
        messages: list[dict[str, Any]] = [{"role": "system", "content": _snippet(rng, texts, 1500)}]
        for turn in range(rng.randrange(1, 9)):
            role = "user" if turn % 2 == 0 else "assistant"
            messages.append({"role": role, "content": _snippet(rng, texts, 3000)})
        body: dict[str, Any] = {"model": rng.choice(["gpt-4o", "gpt-4.1", "claude-sonnet-4", "o3-mini"]),
                                "messages": messages, "stream": rng.random() < 0.7}  # fmt: skip
        if rng.random() < 0.3:
            body["tools"] = [_TOOL]
            body["tool_choice"] = "auto"
        return body
    # Anthropic messages with tool use
    content: list[dict[str, Any]] = []
    convo: list[dict[str, Any]] = [{"role": "user", "content": _snippet(rng, texts, 2000)}]
    for i in range(rng.randrange(1, 5)):
        call_id = f"toolu_{rng.getrandbits(64):016x}"
        content = [
            {"type": "text", "text": _snippet(rng, texts, 400)},
            {"type": "tool_use", "id": call_id, "name": "read_file", "input": {"path": f"src/mod{i}.py"}},
        ]
        convo.append({"role": "assistant", "content": content})
        result = {"type": "tool_result", "tool_use_id": call_id, "content": _snippet(rng, texts, 6000)}
        convo.append({"role": "user", "content": [result]})
    return {
        "model": "claude-sonnet-4",
        "max_tokens": 4096,
        "system": [{"type": "text", "text": _snippet(rng, texts, 3000)}],
        "messages": convo,
        "tools": [
            {
                "name": "read_file",
                "description": _TOOL["function"]["description"],
                "input_schema": _TOOL["function"]["parameters"],
            }
        ],
    }


def _chat(texts: list[str], budget: int, seed: int = 7) -> Iterator[tuple[str, str]]:
    rng = random.Random(seed)  # noqa: S311 - seeded test material, not secrets
    used = 0
    index = 0
    while used < budget and texts:
        body = _chat_body(rng, texts)
        style = rng.random()
        if style < 0.5:
            text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
        elif style < 0.9:
            text = json.dumps(body)
        else:
            text = json.dumps(body, ensure_ascii=False, indent=2)
        text = _cap(text)
        used += len(text.encode("utf-8"))
        index += 1
        yield f"chat:{index}", text


def _logs(budget: int, seed: int = 11) -> Iterator[tuple[str, str]]:
    rng = random.Random(seed)  # noqa: S311 - seeded test material, not secrets
    start = _dt.datetime(2024, 5, 1, tzinfo=_dt.UTC)
    paths = ["/v1/chat/completions", "/v1/messages", "/v1/models", "/v1/embeddings", "/usage", "/token"]
    used = 0
    chunk = 0
    while used < budget:
        lines = []
        for _ in range(400):
            start += _dt.timedelta(milliseconds=rng.randrange(1, 5000))
            level = rng.choices(["INFO", "DEBUG", "WARN", "ERROR"], [70, 15, 10, 5])[0]
            ip = ".".join(str(rng.randrange(256)) for _ in range(4))
            rid = f"{rng.getrandbits(128):032x}"
            method, path = rng.choice(["GET", "POST"]), rng.choice(paths)
            status = rng.choice([200, 200, 200, 401, 429, 500])
            line = (
                f"{start.isoformat(timespec='milliseconds')} {level:<5} [worker-{rng.randrange(8)}] "
                f"{method} {path} {status} {rng.randrange(1, 9000)}ms ip={ip} "
                f"req={rid[:8]}-{rid[8:12]}-{rid[12:16]}-{rid[16:20]}-{rid[20:]}"
            )
            if level == "ERROR":
                line += '\nTraceback (most recent call last):\n  File "/app/server.py", line 42, in handle\n'
                line += "    raise UpstreamError(status)\nUpstreamError: 502 Bad Gateway"
            lines.append(line)
        text = "\n".join(lines) + "\n"
        used += len(text.encode("utf-8"))
        chunk += 1
        yield f"logs:{chunk}", text


# ---- building ----------------------------------------------------------------------


def _collect() -> list[CorpusDocument]:
    docs: list[CorpusDocument] = []

    def add(kind: str, items: Iterable[tuple[str, str]]) -> None:
        docs.extend(CorpusDocument(kind, source, text) for source, text in items)

    def rel(path: Path) -> str:
        return str(path)

    stdlib = Path(sysconfig.get_paths()["stdlib"])
    add("cjk", _from_files(sorted(stdlib.glob("test/cjkencodings/*-utf8.txt")), 400_000, rel))
    add("c", _from_files(_files(["/usr/include"], ["**/*.h"]), 700_000, rel))
    add("perl", _from_files(_files(["/usr/share/perl", "/usr/share/perl5"], ["**/*.pm", "**/*.pl"]), 300_000, rel))
    add("javascript", _from_files(_files(["/usr/lib/node_modules"], ["**/*.js"]), 300_000, rel))
    add("zig", _from_files(_zig_files(), 250_000, rel))
    add("prose", _from_files(_prose_files(), 800_000, rel))
    man = _files(["/usr/share/man"], ["man*/*.gz", "*/man*/*.gz"])
    add("man", _from_files(man, 500_000, rel))
    add("gettext", _gettext(1_300_000))
    snippets = [d.text for d in docs if d.kind in ("prose", "gettext", "cjk", "man")]
    used = sum(len(d.text.encode("utf-8")) for d in docs)
    python_docs = list(_from_files(_python_files(), max(1_600_000, MIN_BYTES + 500_000 - used - 1_200_000), rel))
    add("python", python_docs)
    snippets += [text for _, text in python_docs[:200]]
    add("chat", _chat(snippets, 900_000))
    add("logs", _logs(300_000))
    return docs


def _composition(docs: list[CorpusDocument]) -> dict[str, dict[str, int]]:
    result: dict[str, dict[str, int]] = {}
    for doc in docs:
        data = doc.text.encode("utf-8")
        entry = result.setdefault(doc.kind, {"documents": 0, "bytes": 0, "non_ascii_bytes": 0})
        entry["documents"] += 1
        entry["bytes"] += len(data)
        entry["non_ascii_bytes"] += len(data) - len(data.decode("utf-8").encode("ascii", "ignore"))
    return result


def build_corpus(directory: Path | None = None) -> Corpus:
    """Builds the corpus into `directory` (default corpus_dir()) atomically."""
    directory = directory or corpus_dir()
    started = _dt.datetime.now(_dt.UTC)
    docs = _collect()
    total = sum(len(d.text.encode("utf-8")) for d in docs)
    if total < MIN_BYTES:
        raise RuntimeError(f"only {total} bytes of corpus material on this machine, need {MIN_BYTES}")
    directory.mkdir(parents=True, exist_ok=True)
    payload = "".join(
        json.dumps({"kind": d.kind, "source": d.source, "text": d.text}, ensure_ascii=False) + "\n" for d in docs
    ).encode("utf-8")
    meta = {
        "builder_version": BUILDER_VERSION,
        "sha256": hashlib.sha256(payload).hexdigest(),
        "documents": len(docs),
        "bytes": total,
        "composition": _composition(docs),
        "built_at": started.isoformat(timespec="seconds"),
        "machine": f"{platform.system()} {platform.release()} {platform.machine()}",
        "python": sys.version.split()[0],
    }
    tag = f".{os.getpid()}.{threading.get_ident()}.tmp"
    (directory / (DOCUMENTS + tag)).write_bytes(payload)
    (directory / (META + tag)).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    os.replace(directory / (DOCUMENTS + tag), directory / DOCUMENTS)
    os.replace(directory / (META + tag), directory / META)
    return Corpus(directory, docs, meta)


def read_corpus(directory: Path | None = None) -> Corpus | None:
    """The corpus on disk if it is complete, current and unmodified."""
    directory = directory or corpus_dir()
    try:
        meta = json.loads((directory / META).read_text(encoding="utf-8"))
        payload = (directory / DOCUMENTS).read_bytes()
    except (OSError, ValueError):
        return None
    if not isinstance(meta, dict) or meta.get("builder_version") != BUILDER_VERSION:
        return None
    if hashlib.sha256(payload).hexdigest() != meta.get("sha256"):
        return None
    docs = [CorpusDocument(**json.loads(line)) for line in payload.decode("utf-8").splitlines() if line]
    return Corpus(directory, docs, meta)


_lock = threading.Lock()
_loaded: dict[Path, Corpus] = {}


def load_corpus(directory: Path | None = None, *, build_if_missing: bool = True) -> Corpus:
    """The corpus, built first when missing or stale; cached per process."""
    directory = directory or corpus_dir()
    with _lock:
        corpus = _loaded.get(directory)
        if corpus is None:
            corpus = read_corpus(directory)
            if corpus is None:
                if not build_if_missing:
                    raise FileNotFoundError(f"no current tokenizer corpus in {directory}")
                corpus = build_corpus(directory)
            _loaded[directory] = corpus
        return corpus
