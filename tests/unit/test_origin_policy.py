"""Unit tests for gateway.origin_policy's parsing and gateway.cli.local_commands' reading of
avahi-browse output."""
from __future__ import annotations

import pytest

from gateway.cli.local_commands import parse_avahi
from gateway.origin_policy import OriginPolicy, Refusal, host_name, is_ip_literal
from shared.config import ConfigError


@pytest.mark.parametrize("header, name", [
    ("robot.local:8000", "robot.local"), ("ROBOT.local.", "robot.local"),
    ("[::1]:8000", "::1"), ("[fe80::1]", "fe80::1"), ("10.0.0.2", "10.0.0.2"),
])
def test_host_name(header, name):
    assert host_name(header) == name


def test_ip_literals():
    assert is_ip_literal("10.0.0.2") and is_ip_literal("::1")
    assert not is_ip_literal("10.0.0.2.nip.io")


def test_origins_are_compared_without_a_trailing_slash_or_case():
    policy = OriginPolicy(["http://UI.example:5173/"], [], auth_required=True)
    policy.check({"HTTP_ORIGIN": "http://ui.example:5173", "HTTP_HOST": "robot:8000"})
    with pytest.raises(Refusal):
        policy.check({"HTTP_ORIGIN": "http://ui.example:5174", "HTTP_HOST": "robot:8000"})


def test_any_origin_needs_a_token():
    with pytest.raises(ConfigError, match="needs a token"):
        OriginPolicy("*", [], auth_required=False)


def test_each_refusal_is_reported_once():
    policy = OriginPolicy(None, [], auth_required=True)
    refusal = Refusal("origin", "http://evil.example", "")
    assert policy.first_refusal(refusal) and not policy.first_refusal(refusal)


AVAHI = (
    "+;host0;IPv4;robotctl\\032on\\032vm;_robotctl._tcp;local\n"
    "=;host0;IPv4;robotctl\\032on\\032vm;_robotctl._tcp;local;vm.local;10.77.0.2;8001;"
    "\"auth=token\" \"version=0.1.0\"\n"
    "=;lo;IPv4;robotctl\\032on\\032vm;_robotctl._tcp;local;vm.local;127.0.0.1;8001;"
    "\"auth=none\" \"version=0.1.0\"\n"
    "=;host0;IPv4;robotctl\\032on\\032arm;_robotctl._tcp;local;arm.local;10.77.0.3;8000;"
    "\"fp=%s\" \"tls=1\" \"auth=token\" \"version=0.1.0\"\n" % ("ab" * 32)
)


def test_avahi_browse_lines_become_appliances():
    assert parse_avahi(AVAHI) == [
        {"name": "robotctl on arm", "host": "arm.local", "address": "10.77.0.3", "port": 8000,
         "version": "0.1.0", "token_needed": True, "url": "https://10.77.0.3:8000",
         "tls": True, "fingerprint": "ab" * 32},
        {"name": "robotctl on vm", "host": "vm.local", "address": "10.77.0.2", "port": 8001,
         "version": "0.1.0", "token_needed": True, "url": "http://10.77.0.2:8001",
         "tls": False, "fingerprint": None},
        {"name": "robotctl on vm", "host": "vm.local", "address": "127.0.0.1", "port": 8001,
         "version": "0.1.0", "token_needed": False, "url": "http://127.0.0.1:8001",
         "tls": False, "fingerprint": None},
    ]
