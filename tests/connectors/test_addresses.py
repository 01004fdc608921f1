"""The outbound-address policy on every spelling of an address Relais must not connect to, with
the system's own resolver (getaddrinfo reads the old IPv4 forms) and, for names, a resolver of
the test's own. No connection is made."""

from __future__ import annotations

import socket
from ipaddress import ip_address

import pytest
from pydantic import ValidationError

from connectors.addresses import AddressPolicy, AddressRefused, parse_allow, refused
from hub.settings import Settings
from tests.connectors.arrange import Names

REFUSED_URLS = [
    "https://127.0.0.1/",
    "https://127.1/",
    "https://2130706433/",
    "https://0x7f000001/",
    "https://0x7f.1/",
    "https://0177.0.0.1/",
    "https://localhost/",
    "https://LOCALHOST./",
    "https://10.1.2.3/",
    "https://172.16.0.1/",
    "https://172.31.255.255/",
    "https://192.168.1.1/",
    "https://169.254.169.254/latest/meta-data/",
    "https://100.64.0.1/",
    "https://0.0.0.0/",
    "https://0/",
    "https://[::1]/",
    "https://[::]/",
    "https://[fe80::1]/",
    "https://[fd00::1]/",
    "https://[::ffff:127.0.0.1]/",
    "https://[::ffff:10.0.0.1]/",
    "https://[::ffff:7f00:1]/",
    "https://[2002:7f00:1::]/",  # 6to4 of 127.0.0.1
    "https://[64:ff9b::a00:1]/",  # NAT64 of 10.0.0.1
    "https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/",  # Teredo
    "https://224.0.0.1/",
    "https://[ff02::1]/",
    "https://255.255.255.255/",
    "https://192.0.0.8/",
    "https://198.18.0.1/",
    "http://93.184.216.34/",  # plain http
    "https://user:pass@93.184.216.34/",  # credentials in the URL
    "ftp://93.184.216.34/",
    "https:///nohost",
    "not a url",
]


@pytest.mark.parametrize("url", REFUSED_URLS)
async def test_every_spelling_of_a_private_address_is_refused(url: str) -> None:
    with pytest.raises(AddressRefused):
        await AddressPolicy().check_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "https://93.184.216.34/v1",
        "https://[2606:2800:220:1:248:1893:25c8:1946]:8443/",
        "HTTPS://1.1.1.1",
    ],
)
async def test_a_public_address_is_accepted(url: str) -> None:
    await AddressPolicy().check_url(url)


def test_the_system_resolver_reads_the_old_ipv4_spellings_as_loopback() -> None:
    # What the refusals above rest on: these hosts are loopback to the machine, not names.
    for host in ("127.1", "2130706433", "0x7f000001", "0x7f.1"):
        (found,) = {info[4][0] for info in socket.getaddrinfo(host, 443, type=socket.SOCK_STREAM)}
        assert found == "127.0.0.1", host


@pytest.mark.parametrize(
    "addresses",
    [["::1"], ["127.0.0.1"], ["93.184.216.34", "10.0.0.7"], ["2606:4700::1111", "fd12::1"], []],
)
async def test_a_name_is_refused_when_any_of_its_addresses_is(addresses: list[str]) -> None:
    policy = AddressPolicy(resolve=Names(api_vendor_example=addresses))
    with pytest.raises(AddressRefused):
        await policy.check_url("https://api.vendor.example/v1")


async def test_a_name_that_does_not_resolve_is_refused_like_the_others() -> None:
    names = Names()
    with pytest.raises(AddressRefused):
        await AddressPolicy(resolve=names).check_url("https://no-such.vendor.example:8443/")
    assert names.asked == [("no-such.vendor.example", 8443)]


async def test_a_name_with_public_addresses_only_is_accepted() -> None:
    names = Names(api_vendor_example=["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"])
    await AddressPolicy(resolve=names).check_url("https://api.vendor.example/v1")
    assert names.asked == [("api.vendor.example", 443)]


async def test_the_allow_list_exempts_its_hosts_and_networks_but_not_plain_http() -> None:
    names = Names(partner_lab=["10.20.0.5"], other_lab=["10.30.0.5"])
    policy = AddressPolicy.allowing("127.0.0.1, partner.lab, 192.168.0.0/16", resolve=names)
    await policy.check_url("https://127.0.0.1:8443/")
    await policy.check_url("https://2130706433:8443/")  # the same address, spelt otherwise
    await policy.check_url("https://partner.lab/")
    await policy.check_url("https://192.168.4.2/")
    for still_refused in ("https://127.0.0.2/", "https://other.lab/", "http://127.0.0.1/"):
        with pytest.raises(AddressRefused):
            await policy.check_url(still_refused)
    assert policy.exempt("PARTNER.LAB.") and policy.exempt("192.168.9.9")
    assert not policy.exempt("other.lab") and not policy.exempt("10.0.0.1")


def test_the_allow_list_refuses_what_is_neither_a_host_nor_a_network() -> None:
    assert parse_allow("") == (frozenset(), ())
    hosts, networks = parse_allow(" lab.example , 10.0.0.0/8,[::1] ")
    assert hosts == {"lab.example"} and [str(n) for n in networks] == ["10.0.0.0/8", "::1/128"]
    for wrong in ("10.0.0.0/33", "bad host", "http://lab.example"):
        with pytest.raises(ValueError):
            parse_allow(wrong)
        with pytest.raises(ValidationError, match="outbound_allow"):
            Settings(_env_file=None, outbound_allow=f"127.0.0.1,{wrong}")  # type: ignore[call-arg]
    assert Settings(_env_file=None).outbound_allow == ""  # type: ignore[call-arg]


def test_addresses_with_a_scope_are_judged_like_without() -> None:
    # getaddrinfo gives link-local addresses with their interface.
    assert refused(ip_address("fe80::1%eth0")) and refused(ip_address("fd00::1%2"))
    assert not refused(ip_address("2606:4700::1111%3"))


def test_public_addresses_are_not_refused() -> None:
    for public in ("93.184.216.34", "1.1.1.1", "2606:4700::1111", "2002:5db8:d822::1"):
        assert not refused(ip_address(public)), public
