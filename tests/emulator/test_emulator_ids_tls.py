"""Salesforce ids (prefixes, case-safe checksum) and the emulator's certificate files."""

from __future__ import annotations

import contextlib
import ssl
from pathlib import Path

from emulators.salesforce.ids import checksum, make_id, normalize_id
from emulators.salesforce.tls import ensure_certificates


def reference_checksum(id15: str) -> str:
    """The documented algorithm, written independently of the emulator's."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
    out = ""
    for start in (0, 5, 10):
        flags = sum(1 << i for i, c in enumerate(id15[start : start + 5]) if c.isupper())
        out += alphabet[flags]
    return out


def test_checksum_matches_salesforce_documented_example() -> None:
    assert checksum("001A0000006Vm9r") == "IAC"


def test_make_id_is_18_chars_with_prefix_and_valid_checksum() -> None:
    ids = {make_id("003", n) for n in range(1, 2000)}
    assert len(ids) == 1999
    for record_id in ids:
        assert len(record_id) == 18 and record_id.startswith("003")
        assert record_id[15:] == reference_checksum(record_id[:15])
    # Real ids mix cases; the checksum then carries information.
    assert any(i[15:] != "AAA" for i in ids)


def test_normalize_id_restores_case_and_extends_15_char_ids() -> None:
    record_id = make_id("00Q", 4242)
    assert normalize_id(record_id) == record_id
    assert normalize_id(record_id.lower()) == record_id
    assert normalize_id(record_id.upper()) == record_id
    assert normalize_id(record_id[:15]) == record_id
    assert normalize_id("not-an-id") is None
    assert normalize_id("0035g0000") is None


def test_certificates_are_made_once_and_reused(tmp_path: Path) -> None:
    first = ensure_certificates(tmp_path)
    stamps = {p: p.read_bytes() for p in vars(first).values()}
    assert (first.ca_key.stat().st_mode & 0o777) == 0o600
    second = ensure_certificates(tmp_path)
    assert {p: p.read_bytes() for p in vars(second).values()} == stamps


def test_server_certificate_is_remade_when_missing_and_verifies(tmp_path: Path) -> None:
    files = ensure_certificates(tmp_path)
    ca = files.ca_cert.read_bytes()
    files.server_cert.unlink()
    files = ensure_certificates(tmp_path)
    assert files.ca_cert.read_bytes() == ca
    context = ssl.create_default_context(cafile=str(files.ca_cert))
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(files.server_cert, files.server_key)
    # A memory-BIO handshake checks chain and host name without a socket.
    client_in, client_out, server_in, server_out = (ssl.MemoryBIO() for _ in range(4))
    client = context.wrap_bio(client_in, client_out, server_hostname="127.0.0.1")
    peer = server.wrap_bio(server_in, server_out, server_side=True)
    for _ in range(10):
        for side, out_bio, in_bio in (
            (client, client_out, server_in),
            (peer, server_out, client_in),
        ):
            with contextlib.suppress(ssl.SSLWantReadError):
                side.do_handshake()
            in_bio.write(out_bio.read())
    client.do_handshake()
    peer_cert = client.getpeercert()
    assert peer_cert is not None
    assert peer_cert["subjectAltName"] == (
        ("IP Address", "127.0.0.1"),
        ("DNS", "localhost"),
    )
