"""Account, Broker, Media, Product and Purchase over HTTP through a real uvicorn server (the
``api`` fixture of conftest.py), on SQLite and PostgreSQL: each answer compared with what the chat
shows or the database stores; scopes (401, 403), other users' objects (404) and bad input (4xx)."""

from __future__ import annotations

import base64
import io
import re

import pytest
from cryptography.fernet import Fernet
from PIL import Image
from pydantic import SecretStr
from sqlalchemy import select

from bots.console.transport import Console
from core.account.models import User
from core.account.service import actor_for
from core.broker import exchanges
from core.broker.exchanges import Verification
from core.broker.models import Credential
from core.media.models import Media
from core.product.models import Product

TOKEN = re.compile(r"^stx_[A-Za-z0-9_-]{43}$", re.M)
KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"


async def _token(console, line: str) -> str:
    [secret] = TOKEN.findall((await console.handle(line)).text)
    return secret


def _auth(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


async def _bob(console) -> Console:
    actor = await actor_for(console.core.db, platform="console", external_id="bob", display_name="Bob")
    return Console(console.core, actor, console.out_dir, console.registry)


def _problem(answer, status: int) -> dict:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    body = answer.json()
    assert body["status"] == status and "Traceback" not in answer.text
    return body


def _png(color: str = "red") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), color).save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def keys_on(monkeypatch):
    """A master key for the console's core, and the exchange accepting keys without the network."""

    class FakeExchange:
        async def close(self) -> None:
            pass

    async def verify(self):
        return Verification(can_withdraw=False, can_trade=True)

    monkeypatch.setattr(exchanges, "new_exchange", lambda broker, keys, settings: FakeExchange())
    monkeypatch.setattr(exchanges.ExchangeBroker, "verify", verify)

    def on(console) -> None:
        console.core.settings = console.core.settings.model_copy(
            update={"broker_master_keys": [SecretStr(Fernet.generate_key().decode())]})  # fmt: skip

    return on


async def test_account_retrieve_edit_and_delete(api):
    console, client = api
    reader = _auth(await _token(console, "/token new r"))
    trader = _auth(await _token(console, "/token new t trade"))
    assert (await client.get("/v1/account")).status_code == 401
    mine = await client.get("/v1/account", headers=reader)
    assert mine.status_code == 200, mine.text
    body = mine.json()
    assert body["user_id"] == console.actor.user_id and body["plan"] and body["subscriptions"] == []
    assert [login["platform"] for login in body["logins"]] == ["console"]

    edit = {"name": "Ana Putri", "email": "Ana@Example.COM", "phone": "0812-3456-7890", "country_code": "id"}
    assert _problem(await client.put("/v1/account", headers=reader, json=edit), 403)["detail"].endswith("trade token")
    _problem(await client.put("/v1/account", json=edit), 401)
    edited = await client.put("/v1/account", headers=trader, json=edit)
    assert edited.status_code == 200, edited.text
    shown = edited.json()
    assert (shown["name"], shown["email"], shown["phone"], shown["country_code"]) == (
        "Ana Putri", "Ana@example.com", "+6281234567890", "ID")  # fmt: skip
    chat = (await console.handle("/me")).text
    assert "Ana Putri" in chat and "+6281234567890" in chat  # the chat sees what HTTP stored

    # all or none: a bad field leaves every other field as it was
    bad = _problem(await client.put("/v1/account", headers=trader, json={"name": "Someone Else", "email": "nope"}), 422)
    assert "email" in bad["detail"]
    assert (await client.get("/v1/account", headers=reader)).json()["name"] == "Ana Putri"
    _problem(await client.put("/v1/account", headers=trader, json={"name": ""}), 422)
    _problem(await client.put("/v1/account", headers=trader, json={"image": "http://example.com/a.png"}), 422)
    _problem(await client.put("/v1/account", headers=trader, json={"image": "media:999"}), 404)
    _problem(await client.put("/v1/account", headers=trader, json={"phone": 12}), 422)
    cleared = await client.put("/v1/account", headers=trader, json={"phone": ""})
    assert cleared.status_code == 200 and cleared.json()["phone"] is None

    _problem(await client.delete("/v1/account", headers=reader, params={"confirm": "true"}), 403)
    asked = _problem(await client.delete("/v1/account", headers=trader), 422)
    assert "confirm=true" in asked["hint"]
    async with console.core.db.session() as session:
        assert await session.get(User, console.actor.user_id) is not None  # nothing removed without confirm
    gone = await client.delete("/v1/account", headers=trader, params={"confirm": "true"})
    assert gone.status_code == 200, gone.text
    assert gone.json()["user_id"] == console.actor.user_id and gone.json()["rows"]["users"] == 1
    async with console.core.db.session() as session:
        assert await session.get(User, console.actor.user_id) is None
    for headers in (reader, trader):  # its tokens went with it, at once (no cached grant outlives them)
        _problem(await client.get("/v1/account", headers=headers), 401)
    _problem(await client.post("/v1/media", headers=trader, json={"content": base64.b64encode(_png()).decode()}), 401)


async def test_broker_credentials_connect_list_disconnect_without_echoing_secrets(api, keys_on):
    console, client = api
    keys_on(console)
    reader = _auth(await _token(console, "/token new r"))
    trader = _auth(await _token(console, "/token new t trade"))
    body = {"label": "main", "client_id": KEY, "client_secret": SECRET, "broker": "Binance"}
    _problem(await client.post("/v1/brokers/credentials", json=body), 401)
    _problem(await client.post("/v1/brokers/credentials", headers=reader, json=body), 403)
    made = await client.post("/v1/brokers/credentials", headers=trader, json=body)
    assert made.status_code == 200, made.text
    assert made.json()["label"] == "main" and made.json()["broker"] == "Binance" and made.json()["hint"] == KEY[-4:]
    assert KEY not in made.text and SECRET not in made.text
    async with console.core.db.session() as session:
        [row] = await session.scalars(select(Credential).where(Credential.label == "main"))
    assert row.user_id == console.actor.user_id and SECRET not in row.secret_token and KEY not in row.secret_token
    assert "main" in (await console.handle("/credentials")).text  # the chat sees the key HTTP connected

    listed = await client.get("/v1/brokers/credentials", headers=reader)
    assert listed.status_code == 200 and KEY not in listed.text and SECRET not in listed.text
    assert [(c["label"], c["paper"]) for c in listed.json()["items"]] == [("paper", True), ("main", False)]
    only = (await client.get("/v1/brokers/credentials", headers=reader, params={"broker": "Binance"})).json()
    assert [c["label"] for c in only["items"]] == ["main"] and only["total"] == 1
    _problem(await client.get("/v1/brokers/credentials", headers=reader, params={"broker": "Kraken"}), 422)

    for wrong in ({**body, "label": "other", "broker": "UnknownBroker"}, {**body, "label": "o", "broker": "Kraken"},
                  {**body, "label": "okx1", "broker": "OKX"},  # OKX needs its passphrase
                  {**body, "label": "bad label!"}, {"label": "x", "broker": "Binance"}):  # fmt: skip
        answer = await client.post("/v1/brokers/credentials", headers=trader, json=wrong)
        assert 400 <= answer.status_code < 500 and answer.status_code != 404, (wrong, answer.text)
        assert SECRET not in answer.text and KEY not in answer.text
    _problem(await client.post("/v1/brokers/credentials", headers=trader, json=body), 409)  # the label is taken
    okx = await client.post("/v1/brokers/credentials", headers=trader,
                            json={**body, "label": "okx1", "broker": "OKX", "passphrase": "pass phrase"})  # fmt: skip
    assert okx.status_code == 200 and "pass phrase" not in okx.text
    cex = await client.post("/v1/brokers/credentials", headers=trader,
                            json={**body, "label": "cex1", "broker": "Cexio", "passphrase": "sub1"})  # fmt: skip
    assert cex.status_code == 200 and cex.json()["broker"] == "Cexio", cex.text
    cexio = (await client.get("/v1/brokers/credentials", headers=reader, params={"broker": "Cexio"})).json()
    assert [(c["label"], c["broker"]) for c in cexio["items"]] == [("cex1", "Cexio")]
    assert "cex1" in (await console.handle("/credentials cexio")).text

    bob = _auth(await _token(await _bob(console), "/token new b trade"))
    assert [c["label"] for c in (await client.get("/v1/brokers/credentials", headers=bob)).json()["items"]] == ["paper"]
    _problem(await client.delete("/v1/brokers/credentials", headers=bob, params={"client_id": "main"}), 404)

    _problem(await client.delete("/v1/brokers/credentials", headers=reader, params={"client_id": "main"}), 403)
    _problem(await client.delete("/v1/brokers/credentials", headers=trader, params={"client_id": "paper"}), 422)
    _problem(await client.delete("/v1/brokers/credentials", headers=trader), 422)
    gone = await client.delete("/v1/brokers/credentials", headers=trader, params={"client_id": "main"})
    assert gone.status_code == 200 and gone.json()["label"] == "main" and SECRET not in gone.text
    _problem(await client.delete("/v1/brokers/credentials", headers=trader, params={"client_id": "main"}), 404)
    assert "main" not in (await console.handle("/credentials")).text


async def test_media_upload_fetch_remove_with_quotas(api):
    console, client = api
    reader = _auth(await _token(console, "/token new r"))
    trader = _auth(await _token(console, "/token new t trade"))
    png = _png()
    body = {"content": base64.b64encode(png).decode(), "name": "chart.png"}
    _problem(await client.post("/v1/media", json=body), 401)
    _problem(await client.post("/v1/media", headers=reader, json=body), 403)
    made = await client.post("/v1/media", headers=trader, json=body)
    assert made.status_code == 200, made.text
    file = made.json()
    assert file["content_type"] == "image/png" and file["size"] == len(png) and file["ref"] == f"media:{file['media_id']}"
    assert f"#{file['media_id']}" in (await console.handle("/media")).text  # the chat lists it

    fetched = await client.get(f"/v1/media/{file['name']}", headers=reader, params={"media_id": file["media_id"]})
    assert fetched.status_code == 200 and fetched.content == png
    assert fetched.headers["content-type"] == "image/png" and fetched.headers["x-content-type-options"] == "nosniff"
    assert (await client.get(f"/v1/media/{file['media_id']}", headers=reader)).content == png  # the id as the name
    _problem(await client.get(f"/v1/media/{file['name']}", params={"media_id": file["media_id"]}), 401)

    named = await client.post("/v1/media", headers=trader, json={"content": body["content"], "name": "图表 \"x\".html"})
    assert named.status_code == 200, named.text
    served = await client.get(f"/v1/media/{named.json()['media_id']}", headers=reader)
    assert served.status_code == 200 and served.content == png
    assert served.headers["content-disposition"].startswith('attachment; filename="')
    assert ".png" in served.headers["content-disposition"] and ".html" not in served.headers["content-disposition"]
    assert (await client.delete(f"/v1/media/{named.json()['media_id']}", headers=trader)).status_code == 200

    pictured = await client.put("/v1/account", headers=trader, json={"image": file["ref"]})
    assert pictured.status_code == 200 and pictured.json()["image"] == file["ref"]

    bob = _auth(await _token(await _bob(console), "/token new b trade"))
    for method in ("GET", "DELETE"):
        _problem(await client.request(method, "/v1/media/chart.png", headers=bob, params={"media_id": file["media_id"]}),
                 404)  # fmt: skip
    _problem(await client.put("/v1/account", headers=bob, json={"image": file["ref"]}), 404)

    _problem(await client.post("/v1/media", headers=trader, json={"content": "not base64 at all!"}), 422)
    _problem(await client.post("/v1/media", headers=trader, json={"content": base64.b64encode(b"<html>").decode()}),
             422)  # fmt: skip
    _problem(await client.post("/v1/media", headers=trader, json={}), 422)
    _problem(await client.get("/v1/media/x", headers=reader, params={"media_id": "99999999999999"}), 404)
    _problem(await client.get("/v1/media/chart.png", headers=reader), 404)

    console.core.settings = console.core.settings.model_copy(update={"free_max_media_files": 1})
    full = _problem(await client.post("/v1/media", headers=trader, json={"content": base64.b64encode(_png("blue")).decode()}),
                    429)  # fmt: skip
    assert "1 of 1 files" in full["detail"]

    _problem(await client.delete("/v1/media/chart.png", headers=reader, params={"media_id": file["media_id"]}), 403)
    gone = await client.delete("/v1/media/chart.png", headers=trader, params={"media_id": file["media_id"]})
    assert gone.status_code == 200 and gone.json()["media_id"] == file["media_id"]
    async with console.core.db.session() as session:
        assert await session.get(Media, file["media_id"]) is None
    assert (await client.get("/v1/account", headers=reader)).json()["image"] is None  # the picture went with it
    _problem(await client.get("/v1/media/chart.png", headers=reader, params={"media_id": file["media_id"]}), 404)
    again = await client.post("/v1/media", headers=trader, json=body)
    assert again.status_code == 200  # room again


async def test_products_admin_only_and_purchases_with_mock_payments(api):
    console, client = api
    core = console.core
    reader = _auth(await _token(console, "/token new r"))
    trader = _auth(await _token(console, "/token new t trade"))
    core.settings = core.settings.model_copy(update={"admin_ids": [f"console:{console.actor.platform_user_id}"]})
    admin = _auth(await _token(console, "/token new ops admin"))
    new = {"products": [{"category": "Subscription", "name": "Pro", "price": 149000, "duration_days": 30,
                         "features": {"max_deployments": 20}, "description": "for busy traders"}]}  # fmt: skip
    _problem(await client.post("/v1/products", json=new), 401)
    _problem(await client.post("/v1/products", headers=trader, json=new), 403)
    made = await client.post("/v1/products", headers=admin, json=new)
    assert made.status_code == 200, made.text
    [pro] = made.json()
    assert (pro["name"], pro["price"], pro["duration_days"], pro["features"]) == ("Pro", 149000, 30, {"max_deployments": 20})
    assert "Pro" in (await console.handle("/plans")).text  # the chat sells what HTTP created
    _problem(await client.post("/v1/products", headers=admin, json=new), 409)  # an active product of that name
    both = {"products": [{**new["products"][0], "name": "Max"}, {**new["products"][0], "name": "Bad", "price": 0}]}
    _problem(await client.post("/v1/products", headers=admin, json=both), 422)
    assert (await client.get("/v1/products", headers=reader, params={"name": "Max"})).json()["total"] == 0  # none made
    for bad in ({"products": [{**new["products"][0], "name": "Cheap", "price": 1.5}]},
                {"products": [{**new["products"][0], "name": "Odd", "features": {"nope": 1}}]}, {"products": []}):
        _problem(await client.post("/v1/products", headers=admin, json=bad), 422)

    listed = await client.get("/v1/products", headers=reader, params={"categories": ["subscription"]})
    assert listed.status_code == 200 and [p["name"] for p in listed.json()["items"]] == ["Pro"]
    assert (await client.get("/v1/products", headers=reader, params={"name": "busy"})).json()["total"] == 1
    assert (await client.get("/v1/products", headers=reader, params={"product_ids": [pro["product_id"] + 1]})).json()["items"] == []
    _problem(await client.get("/v1/products", headers=reader, params={"product_ids": ["x"]}), 422)
    _problem(await client.get("/v1/products"), 401)

    order = {"provider": "Mock", "products": [{"product_id": pro["product_id"], "quantity": 1}]}
    quote = await client.post("/v1/purchases/precalculate", headers=reader, json=order)
    assert quote.status_code == 200, quote.text
    assert (quote.json()["subtotal"], quote.json()["tax"], quote.json()["total"]) == (149000, 16390, 165390)
    assert "Total: Rp 165,390" in (await console.handle("/buy Pro")).text  # the price the chat quotes
    await console.handle("/discount add HEMAT10 percent 10")
    discounted = await client.post("/v1/purchases/precalculate", headers=reader,
                                   json={**order, "discount": {"code": "hemat10"}})  # fmt: skip
    assert discounted.json()["discount"] == 14900 and discounted.json()["discount_code"] == "HEMAT10"
    _problem(await client.post("/v1/purchases/precalculate", headers=reader, json={**order, "discount": {"code": "NOPE1"}}), 422)
    _problem(await client.post("/v1/purchases/precalculate", headers=reader, json={**order, "provider": "Mayar"}), 422)
    _problem(await client.post("/v1/purchases/precalculate", headers=reader, json={**order, "provider": "Stripe"}), 422)
    _problem(await client.post("/v1/purchases/precalculate", headers=reader,
                               json={"products": [{"product_id": 99999, "quantity": 1}]}), 422)  # fmt: skip
    _problem(await client.post("/v1/purchases/precalculate", headers=reader,
                               json={"products": [{"product_id": pro["product_id"], "quantity": 0}]}), 422)  # fmt: skip

    _problem(await client.post("/v1/purchases", headers=reader, json=order), 403)
    bought = await client.post("/v1/purchases", headers=trader, json={**order, "discount": {"code": "HEMAT10"}})
    assert bought.status_code == 200, bought.text
    paid = bought.json()
    assert paid["settled"] is True and paid["payment_link"] is None
    assert paid["purchase"]["status"] == "Paid" and paid["purchase"]["total"] == discounted.json()["total"]
    assert f"#{paid['purchase']['purchase_id']}" in (await console.handle("/purchases")).text
    account = (await client.get("/v1/account", headers=reader)).json()
    assert account["plan"] == "Pro" and [s["name"] for s in account["subscriptions"]] == ["Pro"]
    mine = (await client.get("/v1/purchases", headers=reader, params={"status": ["paid"]})).json()
    assert [p["purchase_id"] for p in mine["items"]] == [paid["purchase"]["purchase_id"]]
    _problem(await client.get("/v1/purchases", headers=reader, params={"status": ["Lost"]}), 422)

    bob = _auth(await _token(await _bob(console), "/token new b trade"))
    theirs = await client.get("/v1/purchases", headers=bob, params={"purchase_ids": [paid["purchase"]["purchase_id"]]})
    assert theirs.status_code == 200 and theirs.json()["items"] == [] and theirs.json()["total"] == 0

    _problem(await client.delete("/v1/products", headers=trader, params={"product_ids": [pro["product_id"]]}), 403)
    _problem(await client.delete("/v1/products", headers=admin), 422)
    _problem(await client.delete("/v1/products", headers=admin, params={"product_ids": [pro["product_id"], 99999]}), 404)
    assert (await client.get("/v1/products", headers=reader)).json()["total"] == 1  # all or none: Pro is still on sale
    removed = await client.delete("/v1/products", headers=admin, params={"product_ids": [pro["product_id"]]})
    assert removed.status_code == 200 and removed.json()[0]["deactivated"] is True  # it was bought: kept, hidden
    async with core.db.session() as session:
        assert (await session.get(Product, pro["product_id"])).active is False
    assert (await client.get("/v1/products", headers=reader)).json()["items"] == []

    core.settings = core.settings.model_copy(update={"admin_ids": []})  # no longer an admin: the token stops
    assert (await client.post("/v1/products", headers=admin, json=new)).status_code == 403


async def test_the_openapi_document_names_each_operation_as_the_specification_does(api):
    _console, client = api
    spec = (await client.get("/openapi.json")).json()
    found = {(method.upper(), path): op["summary"] for path, ops in spec["paths"].items() for method, op in ops.items()}
    assert found.items() >= {
        ("GET", "/v1/account"): "Retrieve User Account", ("PUT", "/v1/account"): "Edit User Account",
        ("DELETE", "/v1/account"): "Delete User Account",
        ("GET", "/v1/brokers/credentials"): "List Broker Credentials",
        ("POST", "/v1/brokers/credentials"): "Connect Broker",
        ("DELETE", "/v1/brokers/credentials"): "Disconnect Broker",
        ("POST", "/v1/media"): "Upload Media", ("GET", "/v1/media/{name}"): "Fetch Media",
        ("DELETE", "/v1/media/{name}"): "Remove Media",
        ("GET", "/v1/products"): "Get Products", ("POST", "/v1/products"): "Create Products",
        ("DELETE", "/v1/products"): "Delete Products",
        ("GET", "/v1/purchases"): "Get Purchases", ("POST", "/v1/purchases"): "Purchase",
        ("POST", "/v1/purchases/precalculate"): "Precalculate Purchase",
    }.items()  # fmt: skip
    schemas = spec["components"]["schemas"]
    assert schemas["BrokerOpt"]["enum"] == ["UnknownBroker", "Binance", "Tokocrypto", "OKX", "Coinbase", "Cexio"]
    assert schemas["PaymentProvider"]["enum"] == ["UnknownPaymentProvider", "Mock", "Mayar"]
    assert list(schemas["ConnectBroker"]["properties"])[:4] == ["label", "client_id", "client_secret", "broker"]
    assert list(schemas["EditAccount"]["properties"]) == ["name", "email", "image", "country_code", "phone"]
    assert list(schemas["PurchaseBody"]["properties"]) == ["provider", "products", "discount"]
    assert "content" in schemas["UploadMedia"]["required"]


async def test_a_nul_character_anywhere_is_bad_input_not_a_database_error(api, keys_on):
    console, client = api
    keys_on(console)
    trader = _auth(await _token(console, "/token new t trade"))
    nul = "a\x00b"
    for method, path, kwargs in (
        ("PUT", "/v1/account", {"json": {"image": f"https://example.com/{nul}.png"}}),
        ("POST", "/v1/brokers/credentials", {"json": {"label": "ok", "client_id": "k" * 20 + nul,
                                                      "client_secret": "s" * 20, "broker": "Binance"}}),
        ("DELETE", "/v1/brokers/credentials", {"params": {"client_id": nul}}),
        ("GET", "/v1/products", {"params": {"name": nul}}), ("GET", "/v1/products", {"params": {"categories": [nul]}}),
        ("GET", "/v1/media/a%00b", {}), ("POST", "/v1/media", {"json": {"content": "aGk=", "name": nul}}),
        ("POST", "/v1/purchases/precalculate", {"json": {"products": [{"product_id": 1}], "discount": {"code": nul}}}),
    ):  # fmt: skip
        answer = await client.request(method, path, headers=trader, **kwargs)
        assert _problem(answer, 422)["detail"].startswith("the request has a NUL character"), (method, path)
    async with console.core.db.session() as session:
        assert (await session.get(User, console.actor.user_id)).image is None
        assert list(await session.scalars(select(Credential.label).where(Credential.label == "ok"))) == []
    fine = await client.put("/v1/account", headers=trader, json={"name": "Back\\u0000slash is text"})
    assert fine.status_code == 200 and fine.json()["name"] == "Back\\u0000slash is text"  # an escaped backslash: no NUL
