"""SSRF-safe outbound HTTP for node_http_request (and anything else that fetches user URLs).

Why this exists: a workflow author chooses the URL, but the request leaves from the
server, inside its network. So before every connection (the first one and each
redirect) the host name is resolved here, every address it resolves to is checked, and
the request is sent to that checked address (the URL's host stays in `Host` and in TLS
SNI/certificate checks). A name cannot re-resolve to an internal address between the
check and the connect (DNS rebinding), and a redirect cannot lead inside either.

Refused unless allowlisted (trait `http_allowed_hosts`: host names, IP addresses or
CIDR networks): loopback, private, link-local, shared, reserved, multicast and
unspecified addresses, i.e. anything that is not a global unicast address.

Imports nothing from engine/ or api/; never reads the environment (no proxies).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

from .types import NodeError

if TYPE_CHECKING:  # httpx loads on the first request, not at server start
    import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
DEFAULT_MAX_REDIRECTS = 5


class BlockedAddress(NodeError):
    """The target (or a redirect's target) is not an address the policy lets us reach."""


def _is_public(ip: IPAddress) -> bool:
    mapped = getattr(ip, "ipv4_mapped", None)
    if mapped is not None:  # ::ffff:10.0.0.1 is 10.0.0.1
        ip = mapped
    return ip.is_global and not ip.is_multicast


@dataclass(frozen=True)
class HttpPolicy:
    """Which hosts node code may reach, and how much it may download."""

    allowed_hosts: tuple[str, ...] = ()
    max_response_bytes: int = 10 * 1024 * 1024
    max_redirects: int = DEFAULT_MAX_REDIRECTS

    @classmethod
    def from_list(cls, entries: Iterable[str], **kwargs: Any) -> HttpPolicy:
        return cls(tuple(e.strip() for e in entries if e and e.strip()), **kwargs)

    def _networks(self) -> tuple[list[IPNetwork], set[str]]:
        networks: list[IPNetwork] = []
        names: set[str] = set()
        for entry in self.allowed_hosts:
            try:
                networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
            except ValueError:
                names.add(entry.lower().rstrip("."))
        return networks, names

    def allows(self, host: str, ip: IPAddress) -> bool:
        """True when `ip` (which `host` resolved to) may be connected to."""
        if _is_public(ip):
            return True
        networks, names = self._networks()
        if host.lower().rstrip(".") in names:
            return True
        return any(ip.version == net.version and ip in net for net in networks)

    async def resolve(self, host: str, port: int) -> list[IPAddress]:
        """The addresses to connect to for `host`: every address it resolves to must pass.

        Checking all of them (not just the first) means a name that mixes a public and
        an internal address is refused, instead of depending on which one we pick.
        """
        host = host.strip("[]")
        try:
            literal: IPAddress | None = ipaddress.ip_address(host)
        except ValueError:
            literal = None
        if literal is not None:
            candidates = [literal]
        else:
            loop = asyncio.get_running_loop()
            try:
                infos = await loop.getaddrinfo(
                    host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
                )
            except socket.gaierror as exc:
                raise NodeError(f"cannot resolve host {host!r}: {exc.strerror}") from exc
            candidates = list(
                dict.fromkeys(ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos)
            )
            if not candidates:
                raise NodeError(f"cannot resolve host {host!r}")
        for ip in candidates:
            if not self.allows(host, ip):
                raise BlockedAddress(
                    f"refused to connect to {host!r} ({ip}): private, loopback and link-local "
                    "addresses are blocked unless listed in http_allowed_hosts"
                )
        return candidates

    async def fetch(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str] | None = None,
        content: bytes | None = None,
        timeout_s: float = 30.0,
        follow_redirects: bool = True,
    ) -> dict[str, Any]:
        """One request (following checked redirects); the node's `response` object."""
        try:
            async with asyncio.timeout(timeout_s):
                return await self._fetch(
                    method, url, dict(headers or {}), content, timeout_s, follow_redirects
                )
        except TimeoutError as exc:
            raise NodeError(
                f"HTTP request to {redact(url)} timed out after {timeout_s:g} s"
            ) from exc

    async def _fetch(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        content: bytes | None,
        io_timeout_s: float,
        follow_redirects: bool,
    ) -> dict[str, Any]:
        import httpx

        async with httpx.AsyncClient(
            trust_env=False, timeout=io_timeout_s, follow_redirects=False
        ) as client:
            for _hop in range(self.max_redirects + 1):
                response, body = await self._send(client, method, url, headers, content)
                location = response.headers.get("location")
                if not (
                    follow_redirects and response.status_code in REDIRECT_STATUSES and location
                ):
                    return _response_object(response, body)
                next_url = urljoin(url, location)
                try:
                    cross_host = httpx.URL(next_url).host != httpx.URL(url).host
                except httpx.InvalidURL as exc:
                    raise NodeError(f"invalid redirect location {location!r}: {exc}") from exc
                if cross_host:
                    # Credentials never follow a redirect to another host.
                    headers = {
                        k: v
                        for k, v in headers.items()
                        if k.lower() not in ("authorization", "cookie", "proxy-authorization")
                    }
                if response.status_code == 303 or (
                    response.status_code in (301, 302) and method.upper() not in ("GET", "HEAD")
                ):
                    method, content = "GET", None
                    headers = {
                        k: v
                        for k, v in headers.items()
                        if k.lower() not in ("content-type", "content-length")
                    }
                url = next_url
            raise NodeError(f"too many redirects (more than {self.max_redirects})")

    async def _send(
        self,
        client: httpx.AsyncClient,
        method: str,
        url: str,
        headers: dict[str, str],
        content: bytes | None,
    ) -> tuple[httpx.Response, bytes]:
        import httpx

        try:
            target = httpx.URL(url)
        except (httpx.InvalidURL, TypeError) as exc:
            raise NodeError(f"invalid URL {url!r}: {exc}") from exc
        if target.scheme not in ("http", "https") or not target.host:
            raise NodeError(f"invalid URL {url!r}: only absolute http and https URLs are allowed")
        port = target.port or (443 if target.scheme == "https" else 80)
        shown = redact(url)
        addresses = await self.resolve(target.host, port)
        send_headers = {"Host": target.netloc.decode("ascii"), **headers}
        for i, ip in enumerate(addresses):
            # Connect to a checked address; the name stays in Host and in TLS (SNI + cert).
            request = client.build_request(
                method.upper(),
                target.copy_with(host=str(ip)),
                headers=send_headers,
                content=content,
                extensions={"sni_hostname": target.host} if target.scheme == "https" else None,
            )
            try:
                response = await client.send(request, stream=True)
                break
            except httpx.ConnectError as exc:
                if i + 1 < len(addresses):
                    continue  # e.g. ::1 refused, 127.0.0.1 listening: try the next address
                raise NodeError(f"HTTP request to {shown} failed: {exc}") from exc
            except httpx.TimeoutException as exc:
                raise NodeError(f"HTTP request to {shown} timed out") from exc
            except httpx.HTTPError as exc:
                raise NodeError(f"HTTP request to {shown} failed: {exc}") from exc
        try:
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > self.max_response_bytes:
                    raise NodeError(
                        f"response from {shown} is larger than {self.max_response_bytes} bytes"
                    )
                chunks.append(chunk)
        except httpx.HTTPError as exc:
            raise NodeError(f"HTTP request to {shown} failed while reading: {exc}") from exc
        finally:
            with contextlib.suppress(httpx.HTTPError):
                await response.aclose()
        return response, b"".join(chunks)


def redact(url: str) -> str:
    """The URL without credentials or query string, fit for logs and error messages
    (API keys often travel in query parameters)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    return f"{parts.scheme}://{host}{port}{parts.path}" if parts.scheme else url[:200]


def _response_object(response: httpx.Response, body: bytes) -> dict[str, Any]:
    """{status, headers, body, json}: headers lower-cased (repeats joined by ", ")."""
    headers: dict[str, str] = {}
    for name, value in response.headers.multi_items():
        key = name.lower()
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    encoding = response.encoding or "utf-8"
    try:
        text = body.decode(encoding, errors="replace")
    except LookupError:
        text = body.decode("utf-8", errors="replace")
    parsed: Any = None
    content_type = headers.get("content-type", "")
    stripped = text.lstrip()
    if "json" in content_type or stripped.startswith(("{", "[")):
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None
    return {"status": response.status_code, "headers": headers, "body": text, "json": parsed}
