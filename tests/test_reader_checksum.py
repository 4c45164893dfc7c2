"""The file checksum read_fcs reports is the SHA-256 of the file, hashed inline or in a
background thread (large files), and an unreadable file still gives a typed error."""

from __future__ import annotations

import hashlib

import pytest

from cytomics.errors import FCSError
from cytomics.fcs import reader
from cytomics.fcs.reader import read_fcs


@pytest.mark.parametrize("inline_max", [0, 1 << 40])
def test_sha256_matches_file(corpus, monkeypatch, inline_max):
    monkeypatch.setattr(reader, "_HASH_INLINE_MAX", inline_max)
    path = corpus / "flowkit" / "data" / "gate_ref" / "data1.fcs"
    acq = read_fcs(path)
    assert acq.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_bad_file_with_background_hash_is_typed_error(tmp_path, monkeypatch):
    monkeypatch.setattr(reader, "_HASH_INLINE_MAX", 0)
    bad = tmp_path / "bad.fcs"
    bad.write_bytes(b"FCS3.0    garbage" * 10)
    with pytest.raises(FCSError, match=r"bad\.fcs"):
        read_fcs(bad)
