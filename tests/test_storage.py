"""Atomic writes and file hashes (xaihelpers.storage), against plain file contents and known digests."""

from __future__ import annotations

import hashlib
import os
import stat

import pytest

from xaihelpers import storage


def leftovers(folder):
    return sorted(path.name for path in folder.iterdir())


def test_a_write_appears_whole_readable_by_everyone_and_leaves_nothing_else(tmp_path):
    target = tmp_path / "deeper" / "table.csv"
    with storage.atomic_write(target) as temporary:
        assert temporary.parent == target.parent and temporary.suffix == ".csv"  # writers pick formats by suffix
        assert not target.exists()  # nothing appears before the block ends
        temporary.write_text("a,b\n1,2\n")
    assert target.read_text() == "a,b\n1,2\n"
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o644
    assert leftovers(target.parent) == ["table.csv"]


def test_a_failed_write_keeps_the_old_file_and_removes_the_temporary(tmp_path):
    target = tmp_path / "model.pt"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError, match="disk full"):
        with storage.atomic_write(target) as temporary:
            temporary.write_bytes(b"half")
            raise RuntimeError("disk full")
    assert target.read_bytes() == b"old"
    assert leftovers(tmp_path) == ["model.pt"]


def test_an_existing_file_is_replaced_only_when_asked(tmp_path):
    target = tmp_path / "model.pt"
    target.write_bytes(b"someone's")
    with pytest.raises(FileExistsError, match="--force"):
        with storage.atomic_write(target, overwrite=False) as temporary:
            temporary.write_bytes(b"new")  # never reached: the refusal comes first
    assert target.read_bytes() == b"someone's" and leftovers(tmp_path) == ["model.pt"]
    with storage.atomic_write(target) as temporary:
        temporary.write_bytes(b"new")
    assert target.read_bytes() == b"new"


def test_file_hash_is_sha256_of_the_bytes(tmp_path):
    small = tmp_path / "abc"
    small.write_bytes(b"abc")  # FIPS 180-2's example
    assert storage.file_sha256(small) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    large = tmp_path / "large"
    content = os.urandom(3 * 2**20 + 7)  # more than one read block
    large.write_bytes(content)
    assert storage.file_sha256(large) == hashlib.sha256(content).hexdigest()
