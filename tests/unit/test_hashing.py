import hashlib
import os

from textrepair.hashing import sha256_file, sha256_files


def test_sha256_file_streams_large_files(tmp_path):
    data = os.urandom(3 * (1 << 20) + 17)  # more than one block, not a multiple of it
    (tmp_path / "big.bin").write_bytes(data)
    assert sha256_file(tmp_path / "big.bin") == hashlib.sha256(data).hexdigest()


def test_sha256_files_hashes_the_bytes_in_order(tmp_path):
    (tmp_path / "a").write_bytes(b"abc")
    (tmp_path / "b").write_bytes(b"def")
    assert sha256_files([tmp_path / "a", tmp_path / "b"]) == hashlib.sha256(b"abcdef").hexdigest()
    assert sha256_files([tmp_path / "b", tmp_path / "a"]) != sha256_files(
        [tmp_path / "a", tmp_path / "b"]
    )
