"""Connection settings: key, root URL, timeout, retries, headers.

The key comes from the argument, else ``JUHE_API_KEY``; the root URL from the argument,
else ``JUHE_BASE_URL``, else ``https://api.juheai.top``. Both ``https://api.juheai.top``
and ``https://api.juheai.top/v1`` (what OpenAI SDK users paste) are accepted: a trailing
``/`` or ``/v1`` is removed, so paths are always joined as ``/v1/...`` exactly once.

The key and ``default_headers`` are checked, never altered: a key with whitespace or a
character outside printable ASCII (a trailing newline read from a file, a pasted
non-ASCII character) cannot travel in an HTTP header, so it is refused with a
ConfigurationError that says what is wrong without quoting the key. Stripping it instead
would hide the mistake, and the relay reads a ``-suffix`` as a channel pin
(relay-behavior.md §2), so the key is sent exactly as given.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, TypeAlias
from urllib.parse import urlsplit

import httpx
from pydantic import SecretStr

from juhe_core.errors import ConfigurationError

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_TIMEOUT",
    "Settings",
    "Timeout",
    "as_timeout",
    "state_without_key",
]

DEFAULT_BASE_URL: Final = "https://api.juheai.top"
DEFAULT_TIMEOUT: Final = 60.0
DEFAULT_MAX_RETRIES: Final = 2
API_KEY_ENV: Final = "JUHE_API_KEY"
BASE_URL_ENV: Final = "JUHE_BASE_URL"
# RFC 9110 §5.1 (field names are tokens) and §5.5 (a value is visible ASCII with inner
# spaces or tabs); httpx encodes str values as ASCII and h11 refuses anything else.
_HEADER_NAME: Final = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_HEADER_VALUE: Final = re.compile(r"(?:[\x21-\x7e](?:[ \t]*[\x21-\x7e])*)?")
_KEY: Final = re.compile(r"[\x21-\x7e]+")
# Headers that carry a key on some relay path (relay-behavior.md §2): x-api-key wins over
# Authorization on /v1/messages and /v1/models, x-goog-api-key under /v1beta. Compared
# lower-case, as HTTP field names are case-insensitive.
AUTH_HEADERS: Final = frozenset({"authorization", "x-api-key", "x-goog-api-key"})


def _bad_char(text: str) -> tuple[int, str]:
    """Where the first character outside printable ASCII is, and what kind it is."""
    for i, char in enumerate(text):
        if "\x21" <= char <= "\x7e":
            continue
        if char in "\r\n":
            kind = "a line break"
        elif char.isspace():
            kind = "whitespace"
        elif not char.isascii():
            kind = "a non-ASCII character"
        else:
            kind = "a control character"
        return i, kind
    return -1, ""


def _check_key(key: str) -> None:
    """ConfigurationError when ``key`` cannot be sent in a header; the key is never quoted."""
    if _KEY.fullmatch(key):
        return
    i, kind = _bad_char(key)
    where = "at its end" if i == len(key) - 1 else f"at position {i} of {len(key)}"
    raise ConfigurationError(
        f"The Juhe API key (api_key or {API_KEY_ENV}) contains whitespace or a "
        f"non-printable/non-ASCII character ({kind} {where}), which an HTTP header cannot "
        "carry. It is not altered for you: check how it was read (a trailing newline from "
        "a file is the usual cause)"
    )


def _check_headers(headers: Mapping[str, str]) -> None:
    """ConfigurationError naming the first ``default_headers`` entry HTTP cannot carry.

    Values are never quoted: a custom header can hold a secret too.
    """
    for name, value in headers.items():
        if not isinstance(name, str) or not _HEADER_NAME.fullmatch(name):
            raise ConfigurationError(
                f"default_headers has an invalid header name {name!r}: use letters, digits "
                "and !#$%&'*+-.^_`|~ only"
            )
        if name.lower() in AUTH_HEADERS:
            raise ConfigurationError(
                f"default_headers may not set {name!r}: the key is sent only as "
                f"'Authorization: Bearer <key>', from api_key (or {API_KEY_ENV})"
            )
        if not isinstance(value, str):
            raise ConfigurationError(
                f"default_headers[{name!r}] must be a str, got {type(value).__name__}"
            )
        if not _HEADER_VALUE.fullmatch(value):
            i, kind = _bad_char(value.strip(" \t"))
            what = kind if i >= 0 else "leading or trailing whitespace"
            raise ConfigurationError(
                f"default_headers[{name!r}] has a value an HTTP header cannot carry ({what}); "
                "header values must be printable ASCII"
            )


def normalize_base_url(url: str) -> str:
    """Return the root URL without a trailing ``/`` or ``/v1`` (``…/v1/`` too).

    Raises ConfigurationError for anything that is not an absolute http(s) URL, or that
    carries credentials or a query (a key must never travel in a URL).
    """
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(
            f"base_url must be an absolute http(s) URL such as {DEFAULT_BASE_URL!r}, got {url!r}"
        )
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ConfigurationError(
            "base_url must not contain credentials, a query or a fragment; "
            "pass the key as api_key (or JUHE_API_KEY)"
        )
    root = url.rstrip("/")
    while root.endswith("/v1"):
        root = root[: -len("/v1")].rstrip("/")
    return root


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


Timeout: TypeAlias = float | httpx.Timeout | tuple[float, float] | None
"""Seconds, an ``httpx.Timeout``, a ``(connect, read)`` tuple, or None (no limit)."""


def as_timeout(value: Timeout) -> httpx.Timeout:
    """``value`` as an ``httpx.Timeout``; ConfigurationError naming what is wrong."""
    if isinstance(value, httpx.Timeout):
        return value
    if isinstance(value, tuple):  # (connect, read), as ChatOpenAI's request_timeout takes
        if len(value) != 2 or not all(isinstance(v, (int, float)) and v > 0 for v in value):
            raise ConfigurationError(f"a timeout tuple is (connect, read) seconds, got {value!r}")
        return httpx.Timeout(value[1], connect=value[0])
    if isinstance(value, bool) or not isinstance(value, (int, float, type(None))):
        raise ConfigurationError(f"timeout must be seconds, an httpx.Timeout or None: {value!r}")
    if value is not None and value <= 0:
        raise ConfigurationError(f"timeout must be positive, got {value!r}")
    return httpx.Timeout(value)


@dataclass(frozen=True, repr=False)
class Settings:
    """How to reach Juhe. Build with ``Settings.resolve(...)`` to read the environment.

    The key is a ``SecretStr``: it never appears in ``repr``, ``str`` or errors.
    """

    api_key: SecretStr | None = None
    """The API key (``sk-...``), sent unchanged as ``Authorization: Bearer <key>``."""
    base_url: str = DEFAULT_BASE_URL
    """The root URL, normalised (no trailing ``/`` or ``/v1``)."""
    timeout: httpx.Timeout = field(default_factory=lambda: httpx.Timeout(DEFAULT_TIMEOUT))
    """Timeouts for connect, read, write and pool."""
    max_retries: int = DEFAULT_MAX_RETRIES
    """How many times a failed request is retried (0 disables retries)."""
    default_headers: Mapping[str, str] = field(default_factory=dict)
    """Headers sent with every request. They cannot replace the auth header: an
    ``Authorization``, ``x-api-key`` or ``x-goog-api-key`` entry (in any case) is refused."""
    allow_insecure_http: bool = False
    """Allow sending the key over plain http:// to a host that is not loopback."""

    def __post_init__(self) -> None:
        # Checked here, not only in resolve, so settings built directly are held to it too.
        if self.api_key is not None and self.api_key.get_secret_value():
            _check_key(self.api_key.get_secret_value())
        _check_headers(self.default_headers)

    @classmethod
    def resolve(
        cls,
        *,
        api_key: str | SecretStr | None = None,
        base_url: str | None = None,
        timeout: float | httpx.Timeout | tuple[float, float] | None = DEFAULT_TIMEOUT,
        max_retries: int | None = None,
        default_headers: Mapping[str, str] | None = None,
        allow_insecure_http: bool = False,
    ) -> Settings:
        """Build settings from arguments, falling back to ``JUHE_API_KEY`` / ``JUHE_BASE_URL``.

        A missing key is not an error here: it is raised when a request is first made,
        so objects can be built (and tested) without one.
        """
        key = api_key if api_key is not None else os.environ.get(API_KEY_ENV) or None
        if isinstance(key, str):
            key = SecretStr(key)
        url = normalize_base_url(base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL)
        retries = DEFAULT_MAX_RETRIES if max_retries is None else max_retries
        if retries < 0:
            raise ConfigurationError(f"max_retries must be >= 0, got {retries!r}")
        return cls(
            api_key=key,
            base_url=url,
            timeout=as_timeout(timeout),
            max_retries=retries,
            default_headers=dict(default_headers or {}),
            allow_insecure_http=allow_insecure_http,
        )

    def require_key(self) -> str:
        """Return the key, or raise ConfigurationError naming ``JUHE_API_KEY``.

        A key that cannot travel in a header (see ``_check_key``) is refused here too:
        an unpickled copy reads ``JUHE_API_KEY`` again without ``__post_init__``.
        """
        key = self.api_key.get_secret_value() if self.api_key is not None else ""
        if not key:
            raise ConfigurationError(
                f"No Juhe API key: pass api_key=... or set the {API_KEY_ENV} environment "
                "variable (keys are not pickled; for offline tests, start the emulator: "
                "juhe_core.testing.Emulator)"
            )
        _check_key(key)
        parts = urlsplit(self.base_url)
        if (
            parts.scheme == "http"
            and not self.allow_insecure_http
            and not _is_loopback(parts.hostname or "")
        ):
            raise ConfigurationError(
                f"Refusing to send the API key over plain http:// to {parts.hostname}; "
                "use https://, or pass allow_insecure_http=True if you really mean it"
            )
        return key

    def __getstate__(self) -> dict[str, object]:
        # The key never travels in a pickle; it is read again from JUHE_API_KEY on load.
        return {**self.__dict__, "api_key": None}

    def __setstate__(self, state: dict[str, object]) -> None:
        env_key = os.environ.get(API_KEY_ENV)
        self.__dict__.update(state, api_key=SecretStr(env_key) if env_key else None)

    def __repr__(self) -> str:
        key = "None" if self.api_key is None else "SecretStr('**********')"
        return (
            f"Settings(api_key={key}, base_url={self.base_url!r}, timeout={self.timeout!r}, "
            f"max_retries={self.max_retries})"
        )


def state_without_key(state: dict[str, Any]) -> dict[str, Any]:
    """A pydantic model's pickle state (``__getstate__``) with ``api_key`` blanked.

    The key never leaves in a pickle; an unpickled copy resolves it again from
    ``JUHE_API_KEY`` at its first request (``Settings.resolve``), so multiprocess pipelines
    get it from the environment. Shared by the LangChain and LlamaIndex classes.
    """
    return {**state, "__dict__": {**state["__dict__"], "api_key": None}}
