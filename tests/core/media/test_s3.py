"""S3 storage: SigV4 checked against AWS's published example, then PUT/GET/DELETE against a local stub
S3 server that verifies every signature and payload hash."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime

import httpx
import pytest
from aiohttp import web

from core.errors import NotFound, Unavailable
from core.media import s3
from core.media.storage import new_key

# https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html (Example: GET Object)
AWS_KEY, AWS_SECRET = "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def test_signature_matches_the_aws_example():
    headers = s3.sign(
        "GET", "https://examplebucket.s3.amazonaws.com/test.txt", {"Range": "bytes=0-9"}, s3.EMPTY_SHA256,
        access_key=AWS_KEY, secret_key=AWS_SECRET, region="us-east-1", now=datetime(2013, 5, 24, tzinfo=UTC),
    )  # fmt: skip
    assert headers["Authorization"] == (
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
        "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
        "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
    )
    request, _ = s3.canonical_request(
        "GET", "/test.txt", "", {k: v for k, v in headers.items() if k != "Authorization"}, s3.EMPTY_SHA256
    )
    string_to_sign_hash = hashlib.sha256(request.encode()).hexdigest()
    assert string_to_sign_hash == "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972"


def test_paths_are_encoded_once():
    request, _ = s3.canonical_request("PUT", "/test$file.text", "", {"host": "h"}, s3.EMPTY_SHA256)
    assert request.splitlines()[1] == "/test%24file.text"
    request, _ = s3.canonical_request("PUT", "/test%24file.text", "", {"host": "h"}, s3.EMPTY_SHA256)
    assert request.splitlines()[1] == "/test%24file.text"


_AUTH = re.compile(r"^AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/s3/aws4_request, "
                   r"SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$")  # fmt: skip


class StubS3:
    """A bucket in memory that re-derives each request's signature with the secret it knows."""

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.objects: dict[str, tuple[bytes, str]] = {}
        self.calls: list[tuple[str, str]] = []

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.calls.append((request.method, request.path))
        match = _AUTH.match(request.headers.get("Authorization", ""))
        if match is None:
            return web.Response(status=403, text="no signature")
        access, _day, region, signed_names, signature = match.groups()
        if request.headers["x-amz-content-sha256"] != hashlib.sha256(body).hexdigest():
            return web.Response(status=400, text="XAmzContentSHA256Mismatch")
        signed = {name: request.headers[name] for name in signed_names.split(";")}
        when = datetime.strptime(request.headers["x-amz-date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        url = f"http://{request.headers['host']}{request.raw_path}"
        expected = s3.sign(request.method, url, {k: v for k, v in signed.items() if k not in (
            "host", "x-amz-date", "x-amz-content-sha256")}, request.headers["x-amz-content-sha256"],
            access_key=access, secret_key=self.secret, region=region, now=when)  # fmt: skip
        if not expected["Authorization"].endswith(f"Signature={signature}"):
            return web.Response(status=403, text="SignatureDoesNotMatch")
        key = request.path
        if request.method == "PUT":
            self.objects[key] = (body, request.headers.get("content-type", ""))
            return web.Response(status=200)
        if request.method == "GET":
            if key not in self.objects:
                return web.Response(status=404, text="NoSuchKey")
            return web.Response(body=self.objects[key][0])
        self.objects.pop(key, None)
        return web.Response(status=204)


@pytest.fixture
async def stub():
    server = StubS3("s3cret")
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", server.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    try:
        yield server, f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def test_put_get_delete_against_a_stub_server(stub):
    server, endpoint = stub
    store = s3.S3Storage("media-bucket", access_key="AK", secret_key="s3cret", region="ap-southeast-3",
                         endpoint=endpoint)  # fmt: skip
    key = new_key()
    await store.put(key, b"\x89PNG\r\n\x1a\nbytes", "image/png")
    assert server.objects[f"/media-bucket/{key}"] == (b"\x89PNG\r\n\x1a\nbytes", "image/png")
    assert await store.get(key) == b"\x89PNG\r\n\x1a\nbytes"
    await store.delete(key)
    assert server.objects == {}
    with pytest.raises(NotFound, match="missing from storage"):
        await store.get(key)
    await store.delete(key)  # deleting a missing object is fine
    assert [m for m, _ in server.calls] == ["PUT", "GET", "DELETE", "GET", "DELETE"]


async def test_a_wrong_secret_is_refused_and_reported(stub):
    server, endpoint = stub
    store = s3.S3Storage("media-bucket", access_key="AK", secret_key="wrong", endpoint=endpoint)
    with pytest.raises(Unavailable, match="refused"):
        await store.put(new_key(), b"hello", "text/plain")
    assert server.objects == {}


async def test_an_unreachable_store_is_unavailable():
    store = s3.S3Storage("b", access_key="AK", secret_key="SK", endpoint="http://127.0.0.1:9")
    with pytest.raises(Unavailable, match="unreachable"):
        await store.get(new_key())


async def test_a_refusal_logs_only_the_error_code_never_the_key_id():
    from structlog.testing import capture_logs

    body = ("<?xml version=\"1.0\"?><Error><Code>SignatureDoesNotMatch</Code><Message>no</Message>"
            "<AWSAccessKeyId>AKIAIOSFODNN7EXAMPLE</AWSAccessKeyId><StringToSign>x</StringToSign></Error>")
    transport = httpx.MockTransport(lambda request: httpx.Response(403, text=body))
    store = s3.S3Storage("b", access_key="AKIAIOSFODNN7EXAMPLE", secret_key="SK", endpoint="http://s3.test",
                         transport=transport)  # fmt: skip
    with capture_logs() as logs, pytest.raises(Unavailable, match="refused"):
        await store.get(new_key())
    [entry] = [e for e in logs if e["event"] == "media_s3_failed"]
    assert (entry["status"], entry["code"]) == (403, "SignatureDoesNotMatch")
    assert "AKIAIOSFODNN7EXAMPLE" not in repr(logs)
    assert s3.error_code("not xml") == ""
