"""The providers file: what it accepts, how it narrows the catalog, and the errors it explains."""

from __future__ import annotations

from pathlib import Path

import pytest

from imagine_gateway.catalog.loader import load_catalog
from imagine_gateway.providers.config import (
    ModelMapping,
    ParamRule,
    ProviderConfig,
    ProvidersFileError,
    load_providers_file,
    resolve_models,
)
from imagine_gateway.providers.xai import DEFAULT_MODELS, VIDEO_RULES

CATALOG = {m.id: m for m in load_catalog()}


def load(tmp_path: Path, text: str) -> list[ProviderConfig]:
    path = tmp_path / "providers.toml"
    path.write_text(text)
    return load_providers_file(path, CATALOG)


def test_the_example_file_in_the_docs_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XAI_API_KEY", "xai-key")
    monkeypatch.setenv("RELAY_KEY_1", "relay-1")
    monkeypatch.setenv("RELAY_KEY_2", "relay-2")
    example = Path(__file__).parents[2] / "docs" / "providers.example.toml"

    configs = load_providers_file(example, CATALOG)

    assert [(c.name, c.kind, c.api_keys, c.priority) for c in configs] == [
        ("xai", "xai", ("xai-key",), 1),
        ("dubrify", "xai_compatible", ("relay-1", "relay-2"), 2),
        ("upstream-gateway", "rivya", ("rk_example",), 3),
    ]


def test_an_entry_with_every_option_is_read_as_written(tmp_path: Path) -> None:
    [config] = load(
        tmp_path,
        """
[[providers]]
name = "relay"
kind = "xai_compatible"
base_url = "https://relay.example/"
api_keys = ["k1", "k2"]
priority = 2
weight = 3
max_concurrency = 16
rate_limit = "5/second"
timeout_s = 20
failure_threshold = 4
cool_down_s = 15
submit_path = "/v1/videos"
[providers.models]
"grok-imagine-video" = { upstream_model = "grok-video", max_duration = 10, resolution = ["480p"] }
""",
    )

    assert config == ProviderConfig(
        name="relay",
        kind="xai_compatible",
        base_url="https://relay.example",
        api_keys=("k1", "k2"),
        priority=2,
        weight=3.0,
        max_concurrency=16,
        rate_limit="5/second",
        timeout_s=20.0,
        failure_threshold=4,
        cool_down_s=15.0,
        models={
            "grok-imagine-video": ModelMapping(
                upstream_model="grok-video",
                rules={"duration": ParamRule(max=10.0), "resolution": ParamRule(options=("480p",))},
            )
        },
        submit_path="/v1/videos",
    )


def test_a_file_entry_narrows_the_kind_defaults_without_dropping_them() -> None:
    configured = {"grok-imagine-video": ModelMapping(upstream_model="", rules={"duration": ParamRule(max=8)})}

    models = resolve_models(DEFAULT_MODELS, configured)

    assert models == {
        "grok-imagine-video": ModelMapping(
            upstream_model="grok-imagine-video",
            rules={**VIDEO_RULES, "duration": ParamRule(min=1, max=8)},
        )
    }


@pytest.mark.parametrize(
    ("entry", "error"),
    [
        (
            'name = "a"\nkind = "sora"\nbase_url = "http://x"\napi_key = "k"',
            "provider 'a'.kind: must be one of xai, xai_compatible, grokimagineapi, rivya; got 'sora'",
        ),
        (
            'name = "a"\nkind = "xai"\nbase_url = "http://x"\napi_key_env = "IMAGINE_TEST_UNSET_KEY"',
            "provider 'a': environment variable IMAGINE_TEST_UNSET_KEY is not set",
        ),
        (
            'name = "a"\nkind = "xai"\nbase_url = "http://x"',
            "provider 'a': set api_key, api_keys, api_key_env or api_key_envs",
        ),
        (
            'name = "a"\nkind = "xai"\nbase_url = "http://x"\napi_key = "k"\nrate_limit = "fast"',
            "provider 'a'.rate_limit: expected '<n>/second|minute|hour', got 'fast'",
        ),
        (
            'name = "a"\nkind = "xai"\nbase_url = "http://x"\napi_key = "k"\nmodels = { "sora-2" = {} }',
            "provider 'a'.models: 'sora-2' is not in the catalog",
        ),
        (
            'name = "a"\nkind = "xai"\nbase_url = "http://x"\napi_key = "k"\n'
            'models = { "grok-imagine" = { max_size = 3 } }',
            "provider 'a'.models.grok-imagine.max_size: not understood",
        ),
        (
            'name = "a"\nkind = "xai"\nbase_url = "http://x"\napi_key = "k"\nretries = 3',
            "providers[0]: unknown keys ['retries']",
        ),
    ],
    ids=["kind", "env", "no-key", "rate", "model", "param", "unknown-key"],
)
def test_mistakes_are_refused_with_where_and_why(tmp_path: Path, entry: str, error: str) -> None:
    with pytest.raises(ProvidersFileError) as raised:
        load(tmp_path, "[[providers]]\n" + entry)

    assert error in str(raised.value)
