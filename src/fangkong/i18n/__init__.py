"""Translations: zh-CN (default) and en.

Catalogues are flat JSON objects, `key -> text`, with `{name}` placeholders. Every key
exists in both languages (a test enforces it). Enum labels use `<enum>.<code>` keys,
e.g. `place_category.home`.
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any

LANGUAGES: tuple[str, ...] = ("zh-CN", "en")
DEFAULT_LANGUAGE = "zh-CN"


@functools.cache
def catalogue(lang: str) -> dict[str, str]:
    if lang not in LANGUAGES:
        lang = DEFAULT_LANGUAGE
    text = resources.files("fangkong.i18n").joinpath(f"{lang}.json").read_text("utf-8")
    data: dict[str, str] = json.loads(text)
    return data


def t(key: str, lang: str = DEFAULT_LANGUAGE, /, **params: Any) -> str:
    """Translate `key`; unknown keys come back as the key itself (visible, never a crash)."""
    text = catalogue(lang).get(key)
    if text is None:
        text = catalogue(DEFAULT_LANGUAGE).get(key, key)
    return text.format(**params) if params else text


def label(enum: str, code: str | None, lang: str = DEFAULT_LANGUAGE) -> str:
    if code is None:
        return ""
    return t(f"{enum}.{code}", lang)


def pick_language(value: str | None) -> str:
    """Map an Accept-Language / cookie / query value to a supported language."""
    if not value:
        return DEFAULT_LANGUAGE
    for part in value.split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("en"):
            return "en"
        if tag.startswith("zh"):
            return "zh-CN"
    return DEFAULT_LANGUAGE
