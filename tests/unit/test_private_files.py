"""The token file (and every other private file) is written safely: a fresh temp
file that no symlink can redirect, fsynced, renamed over the target; and the
folder it lives in is private or the write is refused."""

from __future__ import annotations

import logging
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from copilot_hybrid import config
from copilot_hybrid.errors import ConfigError
from copilot_hybrid.github.token_store import read_github_token, write_github_token

pytestmark = pytest.mark.skipif(os.name == "nt", reason="POSIX modes and symlinks")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    folder.mkdir(mode=0o700)
    return folder


def test_token_file_is_0600_and_a_symlink_at_the_target_is_replaced_not_followed(data_dir: Path) -> None:
    victim = data_dir.parent / "victim"
    victim.write_text("keep me")
    target = data_dir / "github_token"
    target.symlink_to(victim)
    write_github_token("gho_new_token\n", target)
    assert not target.is_symlink() and target.is_file()
    assert mode(target) == 0o600
    assert read_github_token(target) == "gho_new_token"
    assert victim.read_text() == "keep me"


def test_symlinks_planted_at_temp_names_are_not_followed(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An attacker who can guess the temp name plants a symlink there first. The old
    `.<name>.<pid>.tmp` was guessable; the new name is random, and even a planted one
    (here: the first candidate, forced) is never opened through."""
    victim = data_dir.parent / "victim"
    victim.write_text("keep me")
    target = data_dir / "github_token"
    planted = [data_dir / f".github_token.{os.getpid()}.tmp", data_dir / ".github_token.planted.tmp"]
    for link in planted:
        link.symlink_to(victim)

    def candidates() -> Iterator[str]:
        yield from ("planted", "fresh")

    monkeypatch.setattr(tempfile, "_get_candidate_names", candidates)
    write_github_token("gho_secret", target)
    assert victim.read_text() == "keep me"
    assert target.read_text() == "gho_secret" and mode(target) == 0o600
    assert all(link.is_symlink() for link in planted)
    leftovers = {p.name for p in data_dir.iterdir()} - {"github_token"} - {p.name for p in planted}
    assert leftovers == set()


def test_file_and_directory_are_fsynced_before_and_after_the_rename(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        events.append("fsync dir" if stat.S_ISDIR(os.fstat(fd).st_mode) else "fsync file")
        real_fsync(fd)

    def replace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        events.append("rename")
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    config.write_private_file(data_dir / "github_token", "gho_x")
    assert events == ["fsync file", "rename", "fsync dir"]


def test_a_failed_write_leaves_no_temp_file_and_the_old_file_intact(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = data_dir / "github_token"
    write_github_token("gho_old", target)

    def broken(src: object, dst: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken)
    with pytest.raises(OSError, match="disk full"):
        write_github_token("gho_new", target)
    assert read_github_token(target) == "gho_old"
    assert [p.name for p in data_dir.iterdir()] == ["github_token"]


def test_a_folder_open_to_others_is_tightened_with_a_log_line(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    folder = tmp_path / "loose"
    folder.mkdir()
    folder.chmod(0o755)
    with caplog.at_level(logging.WARNING, logger="copilot_hybrid.config"):
        write_github_token("gho_x", folder / "github_token")
    assert mode(folder) == 0o700
    assert any(str(folder) in r.getMessage() and "0755" in r.getMessage() for r in caplog.records)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="copilot_hybrid.config"):
        write_github_token("gho_y", folder / "github_token")
    assert caplog.records == []  # already private: nothing to say


def test_a_new_folder_is_created_private(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "github_token"
    write_github_token("gho_x", target)
    assert mode(target.parent) == 0o700


def test_a_folder_that_cannot_be_tightened_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "shared"
    folder.mkdir()
    folder.chmod(0o775)

    def chmod(path: object, mode: int) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "chmod", chmod)
    with pytest.raises(ConfigError, match="chmod 700") as info:
        write_github_token("gho_x", folder / "github_token")
    assert "0775" in str(info.value) and "COPILOT_HYBRID_HOME" in str(info.value)
    assert not (folder / "github_token").exists()


def test_a_shared_sticky_folder_is_refused_not_tightened(tmp_path: Path) -> None:
    """COPILOT_HYBRID_HOME=/tmp must not make /tmp private for everyone else."""
    folder = tmp_path / "tmp-like"
    folder.mkdir()
    folder.chmod(0o1777)
    with pytest.raises(ConfigError, match="shared"):
        write_github_token("gho_x", folder / "github_token")
    assert mode(folder) == 0o1777
    assert not (folder / "github_token").exists()


def test_a_folder_owned_by_someone_else_is_refused(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    owner = data_dir.stat().st_uid
    monkeypatch.setattr(os, "getuid", lambda: owner + 1)
    with pytest.raises(ConfigError, match="another user"):
        write_github_token("gho_x", data_dir / "github_token")
