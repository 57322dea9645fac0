"""SHA-256 checks of dumps and checkpoints (issue 14, defect 7)."""

import hashlib
import os

import pytest

from karma.file_digest import (
    ChecksumError,
    checked_sha256,
    confirm_verified,
    expected_checkpoint_hash,
    verify_and_record,
    verify_sha256,
)


def test_digests_full_and_prefix(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"karma" * 1000)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert verify_sha256(path, digest, "x") == digest
    assert verify_sha256(path, digest[:8], "x") == digest
    with pytest.raises(ChecksumError, match=f"f.bin: SHA-256 is {digest}, but cfg.key requires"):
        verify_sha256(path, "0" * 64, "cfg.key")


def test_configured_digests_must_be_sha256(tmp_path):
    assert checked_sha256("AB" * 32, "k") == "ab" * 32
    for bad in ("abc", "g" * 64, 123, None):
        with pytest.raises(ValueError, match="k: .* is not a SHA-256"):
            checked_sha256(bad, "k")


def test_a_checkpoint_is_checked_by_its_configured_digest_or_the_prefix_in_its_name():
    assert expected_checkpoint_hash("toxic_original-c1212f89.ckpt", None, "k") == "c1212f89"
    assert expected_checkpoint_hash("toxic_original-c1212f89.ckpt", "A" * 64, "k") == "a" * 64
    with pytest.raises(ValueError, match="its name carries no hash prefix .* k is not set"):
        expected_checkpoint_hash("model.ckpt", None, "k")


def test_a_dump_is_hashed_once_and_a_changed_file_is_caught(tmp_path):
    dump = tmp_path / "RS_2019-01.zst"
    dump.write_bytes(b"month" * 100)
    digest = hashlib.sha256(dump.read_bytes()).hexdigest()
    record = tmp_path / "checks/RS_2019-01.sha256.json"
    with pytest.raises(ChecksumError):
        verify_and_record(dump, "1" * 64, record, "reddit.sha256")
    assert not record.exists()
    verify_and_record(dump, digest.upper(), record, "reddit.sha256")
    confirm_verified(dump, [record])
    confirm_verified(dump, [])  # no sha256 configured: nothing to confirm
    dump.write_bytes(b"other" * 100)  # same size, new time
    os.utime(dump, ns=(1, 1))
    with pytest.raises(ChecksumError, match="changed \\(mtime_ns\\) since its SHA-256 was verified"):
        confirm_verified(dump, [record])
