"""Broker key commands: /connect, /credentials, /disconnect, and the paper account's /paper.

Keys are secrets: every command here is private-only (refused in groups), and nothing typed
after the label is ever repeated back, not even in an error, except the key's last four
characters. On Discord the secret is asked for in a form (a modal) when the slash option is left
empty; on text transports the key sits in the user's own message, so the reply asks them to
delete it.
"""

from __future__ import annotations

from bots.commands import registry
from bots.registry import Arg, ArgKind, Context
from core import format as fmt
from core.broker import service as brokers
from core.broker.paper import PaperBroker
from core.broker.types import BrokerName
from core.deployment import credentials as deployment_keys
from core.errors import Invalid, StoxlifyError
from core.message import Button, Message

PAGE_SIZE = 10
CONNECT_USAGE = "/connect BROKER LABEL CLIENT_ID SECRET [PASSPHRASE or SUBACCOUNT]"
BROKER_WORDS = ("binance", "tokocrypto", "okx", "coinbase", "cexio")
# The fifth word some exchanges need besides the key and the secret.
_FIFTH = {BrokerName.OKX: "the key's passphrase", BrokerName.CEXIO: "the sub-account to trade in"}
DELETE_NOTE = "Now delete your message that holds the key: it stays in this chat's history otherwise."
DELETED_NOTE = "I deleted your message that held the key, so it does not stay in this chat."


def _broker_word(token: str) -> BrokerName | None:
    try:
        return brokers.parse_broker(token)
    except Invalid:
        return None


def _is_broker(token: str) -> bool:
    return _broker_word(token) is not None


def _is_page(token: str) -> bool:
    return token.isdigit()


@registry.command(
    "connect",
    "Connect an exchange API key (private chat only; keys are stored encrypted)",
    Arg("broker", "binance, tokocrypto, okx, coinbase or cexio"),
    Arg("label", "a short name for this key, e.g. main"),
    Arg("client_id", "the API key (client id) the exchange shows"),
    Arg(
        "secret",
        "the API secret (OKX: then the passphrase; Cex.io: then the sub-account). Empty: a private form asks",
        kind=ArgKind.REST,
        required=False,
        ask=lambda raw: True,
    ),
    Arg("passphrase", "OKX: the key's passphrase · Cex.io: the sub-account to trade in", required=False),
    group="Brokers",
    examples=(
        "/connect binance main API_KEY API_SECRET",
        "/connect okx okx1 API_KEY API_SECRET PASSPHRASE",
        "/connect cexio cex1 API_KEY API_SECRET SUBACCOUNT",
    ),
    private_only=True,
    operations=("Connect Broker",),
)
async def connect(
    ctx: Context, broker: str, label: str, client_id: str, secret: str | None, passphrase: str | None
) -> Message:
    note = await _key_message_note(ctx)
    name = _broker_word(broker)
    if name is None or name is BrokerName.PAPER:
        return _refuse(f"BROKER must be one of {', '.join(BROKER_WORDS)}", note)
    text = (secret or "").strip()
    if not text:
        return _refuse("missing SECRET: the API secret the exchange showed with the key", note)
    extra = (passphrase or "").strip() or None  # Discord's own option; text transports put it after the secret
    if name is BrokerName.COINBASE:
        text = text.replace("\\n", "\n")  # a PEM private key pasted as one line
    else:
        words = text.split()
        if extra is None and len(words) == 2 and name in _FIFTH:
            text, extra = words
        elif len(words) != 1:
            return _refuse(f"too many words after CLIENT_ID for {name.value}", note)
    if name in _FIFTH and extra is None:
        return _refuse(f"{name.value} needs {_FIFTH[name]} after the secret", note)
    if name not in _FIFTH and extra is not None:
        return _refuse(f"{name.value} keys take only the key and the secret", note)
    try:
        view = await brokers.connect(
            ctx.core.db, ctx.actor, name, label, client_id, text,
            extra if name is BrokerName.OKX else None,
            account=extra if name is BrokerName.CEXIO else None,
            settings=ctx.core.settings,
        )  # fmt: skip
    except StoxlifyError as exc:
        return _refuse(exc.explained, note, usage=isinstance(exc, Invalid))
    lines = [f"Connected {view.broker.value} key '{view.label}'{_hint(view.hint)}."]
    if view.verified_at is not None:
        withdrawals = "withdrawals are off" if view.can_withdraw is False else f"{view.broker.value} does not say about withdrawals"
        lines.append(f"Checked with {view.broker.value}: the key works; {withdrawals}.")
    lines.append("It is stored encrypted; I never show it again. See your keys with /credentials.")
    if note:
        lines.append(note)
    return Message("\n".join(lines), ephemeral=True)


async def _key_message_note(ctx: Context) -> str | None:
    """What to say about the chat message that carried the key: deleted by the transport where it
    can, else a request to delete it; None on Discord, where keys come by a private form."""
    if ctx.transport == "discord":
        return None
    deleter = ctx.extras.get("delete_message")
    if deleter is not None and await deleter():
        return DELETED_NOTE
    return DELETE_NOTE


def _refuse(message: str, note: str | None, *, usage: bool = True) -> Message:
    text = message + (f"\nUsage: {CONNECT_USAGE}" if usage else "")
    if note:
        text += "\nNothing was stored. " + note
    return Message(text, error=True, ephemeral=True)


def _hint(hint: str) -> str:
    return f" (…{hint})" if hint else ""


@registry.command(
    "credentials",
    "Your broker keys and the built-in paper account (keys are never shown)",
    Arg("broker", "only this broker: binance, okx, paper...", required=False, matches=_is_broker),
    Arg("page", "page number", kind=ArgKind.INT, required=False, default=1, matches=_is_page),
    group="Brokers",
    examples=("/credentials", "/credentials binance", "/credentials 2"),
    private_only=True,
    operations=("List Broker Credentials",),
)
async def credentials(ctx: Context, broker: str | None, page: int) -> Message:
    found = await brokers.list_credentials(ctx.core.db, ctx.actor, page, PAGE_SIZE, broker)
    if page > found.pages:
        return Message.fail(f"there {'is' if found.pages == 1 else 'are'} {found.pages} page(s), not {page}")
    if not found.total:
        return Message(f"You have no {broker} keys. Connect one with {CONNECT_USAGE}", ephemeral=True)
    title = "Your broker accounts:" if found.pages == 1 else f"Your broker accounts (page {page} of {found.pages}):"
    lines = [title]
    for view in found.items:
        lines.append(await _line(ctx, view))
    if not any(not v.paper for v in found.items) and found.pages == 1:
        lines.append(f"Connect an exchange key with {CONNECT_USAGE}")
    where = f" {broker}" if broker else ""
    nav = [Button("◀ Prev", f"/credentials{where} {page - 1}")] if page > 1 else []
    nav += [Button("Next ▶", f"/credentials{where} {page + 1}")] if found.has_next else []
    return Message("\n".join(lines), buttons=[nav] if nav else [], ephemeral=True)


def _balances(balances: dict[str, float]) -> str:
    """``IDR 100,000,000, USDT 10,000.00``: what a paper account holds (never its fill markers)."""
    return ", ".join(f"{asset} {_amount(amount)}" for asset, amount in balances.items() if amount) or "empty"


def _amount(value: float) -> str:
    """Cash as money (``10,000``, ``4.50``); a fraction of a coin to its last digit (``0.00012``)."""
    return fmt.number(value) if abs(value) >= 1 else f"{value:.8f}".rstrip("0").rstrip(".")


async def _line(ctx: Context, view: brokers.CredentialView) -> str:
    if view.paper:
        balances = await PaperBroker(ctx.core.db, ctx.core.settings, view.id).fetch_balance()
        return f"• {view.label} · built-in paper account · {_balances(brokers.shown_balances(balances))}"
    parts = [f"• {view.label}", view.broker.value, f"key …{view.hint}" if view.hint else "key"]
    if view.status != brokers.ACTIVE:
        parts.append(f"{view.status.upper()}: connect a new key under this label")
    elif view.verified_at is not None:
        parts.append(f"verified {view.verified_at:%Y-%m-%d}")
    if view.can_withdraw is False:
        parts.append("withdrawals off")
    return " · ".join(parts)


@registry.command(
    "disconnect",
    "Remove a broker key (refused while a running deployment uses it)",
    Arg("label", "the key's label (see /credentials)"),
    group="Brokers",
    examples=("/disconnect main",),
    private_only=True,
    confirmable=True,
    operations=("Disconnect Broker",),
)
async def disconnect(ctx: Context, label: str, confirmed: bool = False) -> Message:
    if not confirmed:
        view = await brokers.get_credential(ctx.core.db, ctx.actor, label)
        if view.paper:
            return Message.fail("the paper account is built in and stays: there is nothing to disconnect")
        return Message(
            f"Disconnect {view.broker.value} key '{view.label}'{_hint(view.hint)}? I delete it here; "
            f"revoke it at {view.broker.value} too if you no longer use it.",
            buttons=[[Button("Yes, disconnect", f"/disconnect {view.label} --yes"), Button("Keep", "/credentials")]],
            ephemeral=True,
        )
    gone = await deployment_keys.disconnect(ctx.core.db, ctx.actor, label)
    return Message(
        f"Disconnected {gone.broker.value} key '{gone.label}'. Revoke it at {gone.broker.value} if you no longer use it.",
        ephemeral=True,
    )


@registry.command(
    "paper",
    "Your paper account's balances; reset it to the starting balances",
    Arg("action", "show (the balances) or reset (back to the starting balances; asks first)",
        kind=ArgKind.CHOICE, choices=("show", "reset"), required=False, default="show"),
    group="Brokers",
    examples=("/paper", "/paper reset"),
    private_only=True,
    confirmable=True,
)  # fmt: skip
async def paper(ctx: Context, action: str, confirmed: bool = False) -> Message:
    core = ctx.core
    if action == "show":
        account = await brokers.paper_account(core.db, core.settings, ctx.actor)
        return Message(
            f"Your paper account: {_balances(account.balances)}.\n"
            f"It started with {_balances(account.starting)}; /paper reset restores that.",
            ephemeral=True,
        )
    try:
        if not confirmed:
            check = await deployment_keys.reset_paper(core.db, core.settings, ctx.actor, check_only=True)
            return Message(
                f"Reset your paper account to {_balances(check.account.starting)}?\n"
                f"It holds {_balances(check.before)} now; everything else on it goes. Your trades stay in "
                "/trades, and flat paper deployments keep running on the fresh balances.",
                buttons=[[Button("Yes, reset", "/paper reset --yes"), Button("Keep", "/paper")]],
                ephemeral=True,
            )
        done = await deployment_keys.reset_paper(core.db, core.settings, ctx.actor)
    except deployment_keys.PaperResetBlocked as exc:
        ids = exc.deployment_ids
        ways = [f"/stop {ids[0]}"] + ([f"/close {ids[0]}"] if "close" in registry else [])
        return Message.fail(f"{exc.message}.\nTry {' or '.join(ways)}, then /paper reset again.")
    cleared = (
        f"\nThe leftover holdings of stopped deployment(s) {', '.join(f'#{i}' for i in done.cleared)} went with it."
        if done.cleared else ""
    )  # fmt: skip
    return Message(f"Your paper account is back to its starting balances: {_balances(done.account.balances)}.{cleared}",
                 ephemeral=True)  # fmt: skip
