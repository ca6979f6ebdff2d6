"""Settings: env fallbacks, base-URL normalisation, key handling."""

from __future__ import annotations

import httpx
import pytest
from pydantic import SecretStr

from juhe_core.errors import ConfigurationError
from juhe_core.settings import Settings, normalize_base_url

KEY = "sk-secretvalue0123456789"


@pytest.mark.parametrize(
    ("url", "root"),
    [
        ("https://api.juheai.top", "https://api.juheai.top"),
        ("https://api.juheai.top/", "https://api.juheai.top"),
        ("https://api.juheai.top/v1", "https://api.juheai.top"),
        ("https://api.juheai.top/v1/", "https://api.juheai.top"),
        ("  https://api.juheai.top/v1/v1 ", "https://api.juheai.top"),
        ("http://127.0.0.1:8080/v1", "http://127.0.0.1:8080"),
        ("https://proxy.example/juhe/v1", "https://proxy.example/juhe"),
        ("https://proxy.example/v1beta", "https://proxy.example/v1beta"),
    ],
)
def test_normalize_base_url(url: str, root: str) -> None:
    assert normalize_base_url(url) == root


@pytest.mark.parametrize(
    "url",
    [
        "api.juheai.top",
        "ftp://api.juheai.top",
        "https://user:pw@api.juheai.top",
        "https://api.juheai.top/v1?key=sk-x",
        "",
    ],
)
def test_bad_base_url(url: str) -> None:
    with pytest.raises(ConfigurationError, match="base_url"):
        normalize_base_url(url)


def test_env_fallbacks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JUHE_API_KEY", KEY)
    monkeypatch.setenv("JUHE_BASE_URL", "https://relay.example/v1")
    settings = Settings.resolve()
    assert settings.require_key() == KEY
    assert settings.base_url == "https://relay.example"
    explicit = Settings.resolve(api_key="sk-other", base_url="https://x.example")
    assert explicit.require_key() == "sk-other"
    assert explicit.base_url == "https://x.example"


def test_defaults() -> None:
    settings = Settings.resolve()
    assert settings.base_url == "https://api.juheai.top"
    assert settings.timeout == httpx.Timeout(60.0)
    assert settings.max_retries == 2
    assert settings.api_key is None


def test_missing_key_is_raised_at_first_use_naming_the_variable() -> None:
    settings = Settings.resolve()  # building without a key is fine
    with pytest.raises(ConfigurationError, match="JUHE_API_KEY"):
        settings.require_key()


def test_timeout_forms() -> None:
    assert Settings.resolve(timeout=5).timeout == httpx.Timeout(5.0)
    custom = httpx.Timeout(3.0, connect=1.0)
    assert Settings.resolve(timeout=custom).timeout is custom
    with pytest.raises(ConfigurationError, match="timeout"):
        Settings.resolve(timeout=-1)
    with pytest.raises(ConfigurationError, match="max_retries"):
        Settings.resolve(max_retries=-1)


def test_key_never_in_repr_or_str() -> None:
    settings = Settings.resolve(api_key=SecretStr(KEY))
    assert KEY not in repr(settings)
    assert KEY not in str(settings)
    assert "**********" in repr(settings)


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("http://127.0.0.1:9", True),
        ("http://localhost:9", True),
        ("http://[::1]:9", True),
        ("https://relay.example", True),
        ("http://relay.example", False),
    ],
)
def test_plain_http_to_remote_host_refused(url: str, allowed: bool) -> None:
    settings = Settings.resolve(api_key=KEY, base_url=url)
    if allowed:
        assert settings.require_key() == KEY
    else:
        with pytest.raises(ConfigurationError, match="plain http"):
            settings.require_key()
        insecure = Settings.resolve(api_key=KEY, base_url=url, allow_insecure_http=True)
        assert insecure.require_key() == KEY


def test_key_never_pickled_and_read_again_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import pickle

    settings = Settings.resolve(api_key=KEY, base_url="https://relay.example", timeout=5)
    blob = pickle.dumps(settings)
    assert KEY.encode() not in blob
    loaded = pickle.loads(blob)
    assert (loaded.base_url, loaded.timeout, loaded.api_key) == (
        "https://relay.example",
        httpx.Timeout(5.0),
        None,
    )
    monkeypatch.setenv("JUHE_API_KEY", "sk-fromenv")
    assert pickle.loads(blob).require_key() == "sk-fromenv"


def test_timeout_spellings() -> None:
    import httpx

    from juhe_core.errors import ConfigurationError
    from juhe_core.settings import Settings

    assert Settings.resolve(api_key="k", timeout=(2, 30)).timeout == httpx.Timeout(30, connect=2)
    assert Settings.resolve(api_key="k", timeout=None).timeout == httpx.Timeout(None)
    given = httpx.Timeout(5, read=50)
    assert Settings.resolve(api_key="k", timeout=given).timeout is given
    for bad in ((1, 2, 3), (0, 5), "30", True, -1):
        with pytest.raises(ConfigurationError, match="timeout"):
            Settings.resolve(api_key="k", timeout=bad)  # type: ignore[arg-type]


BAD_KEYS = [
    pytest.param(KEY + "\n", id="trailing-newline"),
    pytest.param(KEY + "\r\n", id="trailing-crlf"),
    pytest.param(" " + KEY, id="leading-space"),
    pytest.param(KEY[:8] + "\t" + KEY[8:], id="inner-tab"),
    pytest.param(KEY[:8] + "\0" + KEY[8:], id="nul"),
    pytest.param(KEY + "é", id="non-ascii"),
    pytest.param("sk-ключ" + KEY[3:], id="cyrillic"),
]


@pytest.mark.parametrize("bad", BAD_KEYS)
def test_unsendable_key_refused_without_quoting_it(
    bad: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for build in (
        lambda: Settings.resolve(api_key=bad),
        lambda: Settings.resolve(api_key=SecretStr(bad)),
        lambda: Settings(api_key=SecretStr(bad)),
    ):
        with pytest.raises(ConfigurationError, match="JUHE_API_KEY") as info:
            build()
        text = str(info.value) + repr(info.value)
        assert "api_key" in text and "non-printable/non-ASCII" in text
        assert bad.strip() not in text and KEY not in text
    if "\0" in bad:
        return  # the environment cannot hold a NUL
    monkeypatch.setenv("JUHE_API_KEY", bad)
    with pytest.raises(ConfigurationError, match="JUHE_API_KEY"):
        Settings.resolve()
    # an unpickled copy reads the variable again without __post_init__: still refused
    import pickle

    monkeypatch.delenv("JUHE_API_KEY")
    blob = pickle.dumps(Settings.resolve(base_url="https://relay.example"))
    monkeypatch.setenv("JUHE_API_KEY", bad)
    with pytest.raises(ConfigurationError, match="JUHE_API_KEY") as info:
        pickle.loads(blob).require_key()
    assert KEY not in str(info.value)


def test_trailing_newline_is_named_and_a_valid_key_is_never_altered() -> None:
    with pytest.raises(ConfigurationError, match="a line break at its end"):
        Settings.resolve(api_key=KEY + "\n")
    pinned = KEY + "-7"  # the relay reads "-7" as a channel pin; it must reach it as is
    assert Settings.resolve(api_key=pinned).require_key() == pinned


@pytest.mark.parametrize(
    ("headers", "name"),
    [
        ({"X-Trace": "abc\n"}, "X-Trace"),
        ({"X-Trace": "caf\u00e9"}, "X-Trace"),
        ({"X-Trace": "a\r\nX-Injected: 1"}, "X-Trace"),
        ({"X-Trace": " padded"}, "X-Trace"),
        ({"X Trace": "v"}, "X Trace"),
        ({"X-Tr\u00e4ce": "v"}, "X-Tr\u00e4ce"),
    ],
)
def test_unsendable_default_headers_refused_by_name(headers: dict[str, str], name: str) -> None:
    with pytest.raises(ConfigurationError, match="default_headers") as info:
        Settings.resolve(default_headers=headers)
    assert repr(name) in str(info.value)
    value = next(iter(headers.values()))
    if value != "v":
        assert value.strip() not in str(info.value)  # a header value can be a secret too
    assert Settings.resolve(default_headers={"X-Trace": "a b\tc", "X-Empty": ""}).default_headers
