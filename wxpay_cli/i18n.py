"""The translation layer: every sentence a person reads goes through `_` (or `ngettext`).

English is the source language; Simplified Chinese comes from gettext catalogs
(`wxpay_cli/locale/`). JSON keys and values never pass through here: only
human text does. This first version is the interface every module uses; the
catalogs and the language choice (--lang, WXPAY_LANG, LC_ALL/LC_MESSAGES/LANG)
are filled in behind it without changing a call site.
"""

from __future__ import annotations


def _(message: str) -> str:
    """The translation of `message` (an English sentence with `{named}` placeholders)."""
    return message


def ngettext(singular: str, plural: str, n: int) -> str:
    """The translation of a sentence that depends on a count."""
    return singular if n == 1 else plural


def N_(message: str) -> str:
    """Marks a string for extraction without translating it yet (module-level tables)."""
    return message
