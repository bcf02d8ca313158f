"""S3-compatible object storage over httpx, signed with AWS Signature Version 4.

boto3 is not a dependency: three calls (PUT, GET, DELETE of one object) do not justify it.
Requests use path-style addressing (``{endpoint}/{bucket}/{key}``), which AWS, MinIO,
Cloudflare R2 and most compatible stores accept. Payloads are signed (their SHA-256 is sent as
``x-amz-content-sha256``), so a store can reject a body altered on the way.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from urllib.parse import quote, unquote, urlsplit

import httpx

from core.config import Settings
from core.errors import NotFound, Unavailable
from core.logging import get_logger
from core.media.storage import check_key

log = get_logger(__name__)

ALGORITHM = "AWS4-HMAC-SHA256"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
TIMEOUT_S = 20.0


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def signing_key(secret_key: str, day: str, region: str, service: str) -> bytes:
    key = _hmac(("AWS4" + secret_key).encode(), day)
    key = _hmac(key, region)
    key = _hmac(key, service)
    return _hmac(key, "aws4_request")


def canonical_request(
    method: str, path: str, query: str, headers: Mapping[str, str], payload_hash: str
) -> tuple[str, str]:
    """(canonical request, signed header names) as SigV4 defines them for S3 (no path normalising)."""
    lowered = {name.lower().strip(): " ".join(str(value).split()) for name, value in headers.items()}
    names = sorted(lowered)
    canonical_headers = "".join(f"{name}:{lowered[name]}\n" for name in names)
    signed = ";".join(names)
    canonical_query = "&".join(
        sorted(
            f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}"
            for k, _, v in (pair.partition("=") for pair in query.split("&") if pair)
        )
    )
    return "\n".join(
        [method, quote(unquote(path), safe="/-_.~"), canonical_query, canonical_headers, signed, payload_hash]
    ), signed


def sign(
    method: str,
    url: str,
    headers: Mapping[str, str],
    payload_hash: str,
    *,
    access_key: str,
    secret_key: str,
    region: str,
    now: datetime,
    service: str = "s3",
) -> dict[str, str]:
    """``headers`` plus ``Host``, ``x-amz-date``, ``x-amz-content-sha256`` and ``Authorization``."""
    parts = urlsplit(url)
    stamp = now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    day = stamp[:8]
    out = {**headers, "host": parts.netloc, "x-amz-date": stamp, "x-amz-content-sha256": payload_hash}
    request, signed = canonical_request(method, parts.path or "/", parts.query, out, payload_hash)
    scope = f"{day}/{region}/{service}/aws4_request"
    to_sign = "\n".join([ALGORITHM, stamp, scope, hashlib.sha256(request.encode()).hexdigest()])
    signature = hmac.new(
        signing_key(secret_key, day, region, service), to_sign.encode(), hashlib.sha256
    ).hexdigest()
    out["Authorization"] = (
        f"{ALGORITHM} Credential={access_key}/{scope}, SignedHeaders={signed}, Signature={signature}"
    )
    return out


_ERROR_CODE = re.compile(r"<Code>\s*([A-Za-z0-9.]{1,64})\s*</Code>")


def error_code(body: str) -> str:
    """The ``<Code>`` of an S3 error body (``SignatureDoesNotMatch``), or "" when it has none."""
    match = _ERROR_CODE.search(body or "")
    return match.group(1) if match else ""


class S3Storage:
    """One bucket of an S3-compatible store. A fresh HTTP client per call: no lifecycle to manage."""

    def __init__(
        self,
        bucket: str,
        *,
        access_key: str,
        secret_key: str,
        region: str = "us-east-1",
        endpoint: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.bucket = bucket
        self.region = region
        self.endpoint = (endpoint or f"https://s3.{region}.amazonaws.com").rstrip("/")
        self._access_key = access_key
        self._secret_key = secret_key
        self._transport = transport

    @classmethod
    def from_settings(cls, settings: Settings) -> S3Storage:
        if settings.media_s3_access_key is None or settings.media_s3_secret_key is None:
            raise Unavailable(
                "media storage is misconfigured: MEDIA_S3_ACCESS_KEY and MEDIA_S3_SECRET_KEY are needed"
            )
        return cls(
            settings.media_s3_bucket or "",
            access_key=settings.media_s3_access_key.get_secret_value(),
            secret_key=settings.media_s3_secret_key.get_secret_value(),
            region=settings.media_s3_region,
            endpoint=settings.media_s3_endpoint,
        )

    def url_of(self, key: str) -> str:
        return f"{self.endpoint}/{quote(self.bucket, safe='')}/{check_key(key)}"

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        await self._call("PUT", key, data, {"content-type": content_type})

    async def get(self, key: str) -> bytes:
        response = await self._call("GET", key, b"", {})
        return response.content

    async def delete(self, key: str) -> None:
        await self._call("DELETE", key, b"", {}, missing_ok=True)

    async def _call(
        self, method: str, key: str, body: bytes, headers: dict[str, str], *, missing_ok: bool = False
    ) -> httpx.Response:
        url = self.url_of(key)
        payload_hash = hashlib.sha256(body).hexdigest() if body else EMPTY_SHA256
        signed = sign(
            method, url, headers, payload_hash, access_key=self._access_key, secret_key=self._secret_key,
            region=self.region, now=datetime.now(UTC),
        )  # fmt: skip
        try:
            async with httpx.AsyncClient(timeout=TIMEOUT_S, transport=self._transport) as client:
                response = await client.request(method, url, content=body or None, headers=signed)
        except httpx.HTTPError as exc:
            log.warning("media_s3_unreachable", method=method, error=type(exc).__name__)
            raise Unavailable("media storage is unreachable right now; please try again later") from None
        if response.status_code == 404:
            if missing_ok:
                return response
            raise NotFound("that file is missing from storage")
        if response.status_code >= 300:
            # only S3's error code: the rest of the body can echo the access key id, the bucket, the key
            log.warning("media_s3_failed", method=method, status=response.status_code, code=error_code(response.text))
            raise Unavailable("media storage refused the request; please try again later")
        return response
