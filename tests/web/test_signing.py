"""Signed values: bound to their purpose and key, tamper-evident, and refused once older than their age."""

from __future__ import annotations

from bedside.web.signing import Signer


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def test_a_signed_value_round_trips_for_its_purpose_only() -> None:
    signer = Signer(b"k" * 48)
    signed = signer.sign("session", "abc.def:ghi")  # dots and colons in the value are fine
    assert signer.unsign("session", signed, 60) == "abc.def:ghi"
    assert signer.unsign("device", signed, 60) is None  # signed for another purpose
    assert Signer(b"x" * 48).unsign("session", signed, 60) is None  # under another key
    value, stamp, mac = signed.rsplit(".", 2)
    assert signer.unsign("session", f"{value}x.{stamp}.{mac}", 60) is None  # value changed
    assert signer.unsign("session", f"{value}.{stamp}.{mac[:-1]}", 60) is None  # signature cut
    for junk in ("", ".", "abc", "a.b.c", "ünïcödé.x.y", "\udcff.1.2"):
        assert signer.unsign("session", junk, 60) is None


def test_a_signed_value_expires_on_the_server() -> None:
    clock = Clock()
    signer = Signer(b"k" * 48, clock)
    signed = signer.sign("login", "nonce")
    clock.now += 3600
    assert signer.unsign("login", signed, 3600) == "nonce"
    clock.now += 1
    assert signer.unsign("login", signed, 3600) is None
    clock.now -= 7200  # signed in the future (a clock moved back, or a forged stamp): refused too
    assert signer.unsign("login", signed, 3600) is None


def test_macs_are_keyed_per_purpose_and_checked_in_constant_time() -> None:
    signer = Signer(b"k" * 48)
    mac = signer.mac("login-form", "nonce")
    assert mac == signer.mac("login-form", "nonce") != signer.mac("ask-form", "nonce")
    assert signer.matches("login-form", "nonce", mac)
    assert not signer.matches("login-form", "nonce2", mac)
    assert not signer.matches("ask-form", "nonce", mac)
    for junk in ("", "ü", "\udcff", mac[:-1]):
        assert not signer.matches("login-form", "nonce", junk)
