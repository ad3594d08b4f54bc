"""The process's one logged-in session per PKCS#11 token, shared by the key ring and the signer.

PKCS#11 logs in per token and per process (every session of the process shares the login, and
logging out one logs out all), and python-pkcs11 sessions are not thread-safe. So each (module,
token label) has one process-wide `TokenConnection`: one long-lived read/write session, logged
in once, used under one lock by every adapter on that token (calls are short). It is never
logged out. After a token failure the session is dropped and the next call opens a new one
(logging in again with the PIN).

Errors: `connect` raises `KeyConfigError` (one line naming the setting and the token, never the
PIN) when the module, the token or the login fails; `TokenConnection.use` turns token failures
at run time into `StorageUnavailable` (retry later).
"""

from __future__ import annotations

import hmac
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final, TypeVar

import pkcs11
from pkcs11 import exceptions as p11

from lucid_sessions.adapters.crypto.keyring import KeyConfigError
from lucid_sessions.domain.errors import StorageUnavailable

if TYPE_CHECKING:
    from pkcs11._pkcs11 import lib as Pkcs11Library

__all__ = [
    "MODULE_SETTING",
    "PIN_SETTING",
    "RETRY_AFTER_SECONDS",
    "TOKEN_LABEL_SETTING",
    "TokenConnection",
    "connect",
    "failure",
    "find_object",
    "require_mechanisms",
]

MODULE_SETTING: Final = "LUCID_PKCS11_MODULE"
TOKEN_LABEL_SETTING: Final = "LUCID_PKCS11_TOKEN_LABEL"  # noqa: S105 (a setting name)
PIN_SETTING: Final = "LUCID_PKCS11_PIN_FILE"
RETRY_AFTER_SECONDS: Final = 5

_PIN_REFUSED: Final = (p11.PinIncorrect, p11.PinInvalid, p11.PinLenRange, p11.PinLocked)

_T = TypeVar("_T")
_K = TypeVar("_K")


def failure(error: BaseException) -> str:
    """A PKCS#11 error, named by its class (python-pkcs11's messages carry nothing more)."""
    return type(error).__name__


@dataclass(eq=False)
class TokenConnection:
    """The process's one logged-in session on one token, and the lock that serializes it."""

    module: str
    token_label: str
    library: Pkcs11Library
    pin: str = field(repr=False)
    lock: threading.Lock = field(default_factory=threading.Lock)
    session: pkcs11.Session | None = None

    @property
    def where(self) -> str:
        return f"PKCS#11 token {self.token_label!r}"

    def open(self) -> pkcs11.Session:
        """The session, opened (and logged in) if there is none. Call with `lock` held."""
        if self.session is None:
            token = self.library.get_token(token_label=self.token_label)
            try:
                self.session = token.open(rw=True, user_pin=self.pin)
            except p11.UserAlreadyLoggedIn:
                # Something else in this process logged in to the token: sessions share it.
                self.session = token.open(rw=True)
        return self.session

    def drop(self) -> None:
        """Forget the session after a failure; the next call opens a new one."""
        self.session = None

    def use(self, work: Callable[[pkcs11.Session], _T]) -> _T:
        """Run `work` on the token's session, under its lock; token failures become
        `StorageUnavailable` (and the session is opened anew on the next call)."""
        with self.lock:
            try:
                return work(self.open())
            except p11.PKCS11Error as exc:
                self.drop()
                raise StorageUnavailable(
                    f"the {self.where} is unavailable: {failure(exc)}",
                    retry_after_seconds=RETRY_AFTER_SECONDS,
                ) from None


_CONNECTIONS: dict[tuple[str, str], TokenConnection] = {}
_CONNECTIONS_LOCK = threading.Lock()


def connect(module: str, token_label: str, pin: str) -> TokenConnection:
    """The connection to the token, opened on first use; `KeyConfigError` when it cannot be."""
    where = f"PKCS#11 token {token_label!r}"
    with _CONNECTIONS_LOCK:
        known = _CONNECTIONS.get((module, token_label))
        if known is not None:
            # Logged in already (the login is shared): a different PIN is a wrong one.
            if not hmac.compare_digest(known.pin.encode(), pin.encode()):
                raise KeyConfigError(f"{PIN_SETTING}: the {where} refuses the PIN (PinIncorrect)")
            return known
        try:
            library = pkcs11.lib(module)
        except p11.PKCS11Error as exc:
            raise KeyConfigError(
                f"{MODULE_SETTING}: cannot load the PKCS#11 module {module!r}: {exc}"
            ) from None
        connection = TokenConnection(module, token_label, library, pin)
        try:
            connection.open()
        except p11.NoSuchToken:
            raise KeyConfigError(
                f"{TOKEN_LABEL_SETTING}: no PKCS#11 token labelled {token_label!r} "
                f"in the module {module!r}"
            ) from None
        except p11.MultipleTokensReturned:
            raise KeyConfigError(
                f"{TOKEN_LABEL_SETTING}: more than one PKCS#11 token is labelled "
                f"{token_label!r}; give each token its own label"
            ) from None
        except _PIN_REFUSED as exc:
            raise KeyConfigError(
                f"{PIN_SETTING}: the {where} refuses the PIN ({failure(exc)})"
            ) from None
        except p11.PKCS11Error as exc:
            raise KeyConfigError(f"the {where} cannot be opened: {failure(exc)}") from None
        _CONNECTIONS[(module, token_label)] = connection
        return connection


def require_mechanisms(
    connection: TokenConnection, needed: dict[pkcs11.Mechanism, str], what: str
) -> None:
    """`KeyConfigError` (one line) when the token lacks a mechanism the service needs for
    `what` ("master keys", "signing keys"...): a TPM 2.0 through tpm2-pkcs11, for example, has
    neither AES-GCM nor Ed25519, and is better refused at start-up than at the first chunk."""
    try:
        # Under the token's lock: the module is not initialized for concurrent calls.
        with connection.lock:
            token = connection.library.get_token(token_label=connection.token_label)
            offered = token.slot.get_mechanisms()
    except p11.PKCS11Error as exc:
        raise KeyConfigError(
            f"the {connection.where} cannot list its mechanisms: {failure(exc)}"
        ) from None
    missing = [name for mechanism, name in needed.items() if mechanism not in offered]
    if missing:
        raise KeyConfigError(
            f"{MODULE_SETTING}: the {connection.where} does not offer {', '.join(missing)}, "
            f"which the service needs for its {what}; use a token that does "
            f"(SoftHSM2, a YubiHSM 2, a network HSM)"
        )


def find_object(
    session: pkcs11.Session, template: dict[pkcs11.Attribute, object], kind: type[_K], missing: str
) -> _K:
    """The first object of `kind` the token holds matching `template`; `StorageUnavailable`
    with `missing` (what is gone, retry later) when it holds none."""
    for found in session.get_objects(template):
        if isinstance(found, kind):
            return found
    raise StorageUnavailable(missing, retry_after_seconds=RETRY_AFTER_SECONDS)
