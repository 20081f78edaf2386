"""Where a webhook may go: the URL rules, and the addresses its host may resolve to.

A URL must be ``https`` (``http`` only with ``FLOWTRACK_WEBHOOKS_ALLOW_HTTP``) and carry
no credentials. Its host must resolve to public addresses only — not loopback,
private, link-local, shared, reserved or multicast — unless
``FLOWTRACK_WEBHOOKS_ALLOW_PRIVATE``: checked when an endpoint is created or changed,
and again at every delivery, whose connection then goes to an address this check let
through (a name that resolves elsewhere by then, DNS rebinding, gains nothing).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass

import httpx

from receiver.errors import InvalidRequest

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
MAX_URL_LENGTH = 2000


class InvalidWebhookUrl(InvalidRequest):
    """The endpoint URL is not one flowtrack sends to; ``detail`` says why."""

    code = "invalid_webhook_url"


class RefusedAddress(Exception):
    """The host does not resolve, or resolves to an address webhooks may not reach."""


@dataclass(frozen=True)
class UrlPolicy:
    """What the settings allow: plain http, internal addresses."""

    allow_http: bool
    allow_private: bool


def check_url(raw: str, policy: UrlPolicy) -> httpx.URL:
    """The URL if its form is acceptable; else InvalidWebhookUrl saying what is wrong."""

    def refuse(problem: str) -> InvalidWebhookUrl:
        return InvalidWebhookUrl(f"url: {problem}", detail=[{"field": "url", "problem": problem}])

    if len(raw) > MAX_URL_LENGTH:
        raise refuse(f"is {len(raw)} characters long; at most {MAX_URL_LENGTH} allowed")
    try:
        url = httpx.URL(raw)
    except (httpx.InvalidURL, TypeError) as exc:
        raise refuse(f"is not a URL ({exc})") from None
    allowed = ("https", "http") if policy.allow_http else ("https",)
    if url.scheme not in allowed:
        hint = "" if policy.allow_http else " (http only with FLOWTRACK_WEBHOOKS_ALLOW_HTTP=1)"
        raise refuse(f"must be an https:// URL{hint}")
    if not url.host:
        raise refuse("names no host")
    if url.userinfo:
        raise refuse("must not carry credentials (user:password@); use the signature")
    return url


def is_public(address: Address) -> bool:
    """Whether an address is on the public internet (IPv4-mapped IPv6 judged as IPv4)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


async def resolve(url: httpx.URL, policy: UrlPolicy) -> Address:
    """The address to connect to for ``url``; RefusedAddress when there is none allowed.

    Every address the name has must be public (one private answer among public ones is
    how rebinding attacks are staged), unless the policy allows internal ones.
    """
    host = url.host
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        found = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise RefusedAddress(f"{host} does not resolve ({exc.strerror or exc})") from None
    addresses = [ipaddress.ip_address(info[4][0]) for info in found]
    if not addresses:
        raise RefusedAddress(f"{host} does not resolve")
    if not policy.allow_private:
        internal = [str(each) for each in addresses if not is_public(each)]
        if internal:
            raise RefusedAddress(
                f"{host} resolves to an internal address ({', '.join(sorted(set(internal)))}); "
                "webhooks only go to public addresses unless FLOWTRACK_WEBHOOKS_ALLOW_PRIVATE=1"
            )
    return addresses[0]


async def check_endpoint_url(raw: str, policy: UrlPolicy) -> str:
    """The URL to store: its form checked, and where its host resolves now."""
    url = check_url(raw, policy)
    try:
        await resolve(url, policy)
    except RefusedAddress as exc:
        raise InvalidWebhookUrl(
            f"url: {exc}", detail=[{"field": "url", "problem": str(exc)}]
        ) from None
    return str(url)
