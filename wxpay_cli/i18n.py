"""The translation layer: every sentence a person reads goes through `_` (or `ngettext`).

English is the source language; Simplified Chinese comes from the gettext
catalog in `wxpay_cli/locale/` (stdlib `gettext`, loaded only when Chinese is
chosen, so English start-up pays nothing). The language: `--lang`, else
`WXPAY_LANG`, else the first of LC_ALL / LC_MESSAGES / LANG that is set; `zh…`
means Chinese, anything else English. Windows sets none of those: there, with no
variable set, the display language chosen in Windows decides.

JSON keys and values never change with the language. A translated sentence
remembers its English source (`english`), so a message that reaches JSON
(a `--json` error, a batch record) is written in English whatever the
language. click's own sentences ("Usage:", "Missing option") come from the
same catalog through the standard library's gettext domain; the help texts
click stores at import are translated at display time (`localize_command`).
"""

from __future__ import annotations

import os

DOMAIN = "wxpay"
LANGUAGES = ("en", "zh")
ON_WINDOWS = os.name == "nt"

_catalog = None  # gettext.GNUTranslations while Chinese is on, else None
_language = "en"


class Text(str):
    """A translated sentence that still knows its English source (`.source`)."""

    source: str

    def __new__(cls, translated: str, source: str) -> Text:
        text = super().__new__(cls, translated)
        text.source = source
        return text

    def format(self, *args, **kwargs) -> Text:  # noqa: D102 - str.format, both languages
        # The English keeps English arguments too (a translated label inside a message).
        return Text(str.format(self, *args, **kwargs),
                    self.source.format(*map(english, args), **{k: english(v) for k, v in kwargs.items()}))

    def __mod__(self, values) -> Text:
        return Text(str.__mod__(self, values), self.source % values)

    # A sentence put together from pieces (a message plus what is known after it) keeps its
    # English too, so JSON stays English whatever the language.
    def __add__(self, other: str) -> Text:
        return Text(str.__add__(self, other), self.source + english(other))

    def __radd__(self, other: str) -> Text:
        return Text(str.__add__(other, self), english(other) + self.source)


def _(message: str) -> str:
    """The translation of `message` (an English sentence with `{named}` placeholders)."""
    if _catalog is None:
        return message
    translated = _catalog.gettext(message)
    return Text(translated, message) if translated is not message else message


def ngettext(singular: str, plural: str, n: int) -> str:
    """The translation of a sentence that depends on a count."""
    source = singular if n == 1 else plural
    if _catalog is None:
        return source
    return Text(_catalog.ngettext(singular, plural, n), source)


def N_(message: str) -> str:
    """Marks a string for extraction without translating it yet (module-level tables)."""
    return message


def english(text: object) -> object:
    """The English source of a sentence (itself when it was never translated)."""
    return getattr(text, "source", text)


def english_data(data: object) -> object:
    """`data` with every translated sentence put back into English (for JSON)."""
    if _catalog is None:
        return data
    if isinstance(data, Text):
        return data.source
    if isinstance(data, dict):
        return {english_data(key): english_data(value) for key, value in data.items()}
    if isinstance(data, (list, tuple)):
        return [english_data(value) for value in data]
    return data


_chinese = None  # the Chinese catalog loaded for `in_chinese` while English is on


def in_chinese(message: str) -> str:
    """`message` as the Chinese catalog says it, whatever the language in force: for reading
    back a word a person may type in either language (an audit filter)."""
    global _chinese
    if _catalog is not None:
        return _catalog.gettext(message)
    if _chinese is None:
        import gettext

        _chinese = gettext.translation(DOMAIN, os.path.join(os.path.dirname(__file__), "locale"),
                                       languages=["zh_CN"], fallback=True)
    return _chinese.gettext(message)


# -- choosing the language ----------------------------------------------------


def choose_language(flag: str | None = None, environ=None) -> str:
    """`--lang`, else WXPAY_LANG, else LC_ALL / LC_MESSAGES / LANG (the first set), else
    (Windows only) the display language."""
    environ = os.environ if environ is None else environ
    if flag:
        return "zh" if flag.lower().startswith("zh") else "en"
    for name in ("WXPAY_LANG", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = environ.get(name)
        if value:
            return "zh" if value.lower().startswith("zh") else "en"
    return windows_display_language() or "en"


def windows_display_language() -> str | None:
    """On Windows, "zh" when the user's display language is Chinese (a LANGID whose
    primary language is 0x04), "en" for any other; None elsewhere or if Windows will not say."""
    if not ON_WINDOWS:
        return None
    try:
        import ctypes

        langid = int(ctypes.windll.kernel32.GetUserDefaultUILanguage())
    except Exception:  # no windll (not Windows after all), or the call failed: the default
        return None
    return "zh" if langid & 0x3FF == 0x04 else "en"


def lang_flag(args: list[str]) -> str | None:
    """The value of the global `--lang` in an argument list, read before click parses it
    (so click's own usage errors and `--help` are already in that language)."""
    for index, arg in enumerate(args):
        if arg == "--":
            break
        if arg == "--lang" and index + 1 < len(args):
            return args[index + 1] if args[index + 1] in LANGUAGES else None
        if arg.startswith("--lang="):
            value = arg.partition("=")[2]
            return value if value in LANGUAGES else None
    return None


def current_language() -> str:
    return _language


def set_language(language: str) -> None:
    """Turn Chinese on (loading the catalog) or off."""
    global _catalog, _language
    _language = "zh" if language == "zh" else "en"
    if _language == "en":
        _catalog = None
        _route_stdlib_gettext(None)
        return
    import gettext

    localedir = os.path.join(os.path.dirname(__file__), "locale")
    _catalog = gettext.translation(DOMAIN, localedir, languages=["zh_CN"], fallback=True)
    _route_stdlib_gettext(localedir)


# ($LANGUAGE, the text domain) as they were before Chinese was turned on
_language_before: list[tuple[str | None, str]] = []


def _route_stdlib_gettext(localedir: str | None) -> None:
    """click translates its own sentences ("Usage:", "Missing option") with the standard
    library's `gettext`, which reads the process's text domain and $LANGUAGE at each call:
    while Chinese is on, they name wxpay's catalog (it holds click's sentences too), as any
    gettext application sets them; afterwards they are put back."""
    import gettext

    if localedir is not None:
        if not _language_before:
            _language_before.append((os.environ.get("LANGUAGE"), gettext.textdomain()))
        os.environ["LANGUAGE"] = "zh_CN"
        gettext.bindtextdomain(DOMAIN, localedir)
        gettext.textdomain(DOMAIN)
        return
    if _language_before:
        before, domain = _language_before.pop()
        gettext.textdomain(domain)
        if before is None:
            os.environ.pop("LANGUAGE", None)
        else:
            os.environ["LANGUAGE"] = before


# The operating system's reasons (strerror) are English whatever the locale; the common ones in words.
_OS_REASONS = {"ENOENT": N_("no such file or folder"), "EACCES": N_("permission denied"),
               "EISDIR": N_("is a folder"), "ENOTDIR": N_("not a folder"),
               "ECONNREFUSED": N_("connection refused (nothing answers on that port: check base_url)"),
               "ECONNRESET": N_("connection reset"), "ETIMEDOUT": N_("connection timed out"),
               "ENETUNREACH": N_("network unreachable"), "EHOSTUNREACH": N_("host unreachable")}
_RESOLVER_REASONS = ("Name or service not known", "nodename nor servname provided, or not known",
                     "Temporary failure in name resolution", "No address associated with hostname")


def os_words(text: str) -> str:
    """`text` with the operating system's English reason in it ("[Errno 111] Connection
    refused") put in the operator's language; its English source is kept for JSON."""
    if _catalog is None:
        return text
    import errno

    translated = str(text)
    for name, words in _OS_REASONS.items():
        number = getattr(errno, name, None)
        if number is not None and os.strerror(number) in translated:
            translated = translated.replace(os.strerror(number), _(words))
    for reason in _RESOLVER_REASONS:
        translated = translated.replace(reason, _("host name not found (DNS)"))
    if translated != text:
        import re

        translated = re.sub(r"\[Errno -?\d+\] ", "", translated)  # the reason is said in words now
    return Text(translated, english(text)) if translated != text else text


# -- help texts click stored at import ----------------------------------------

_SOURCE = "_wxpay_english"


def _help_source(obj, attribute: str) -> str | None:
    sources = obj.__dict__.setdefault(_SOURCE, {})
    if attribute not in sources:
        value = english(getattr(obj, attribute, None))
        if isinstance(value, str) and attribute == "help":
            import inspect  # already imported by click

            value = inspect.cleandoc(value).partition("\f")[0]
        sources[attribute] = value
    return sources[attribute]


def localize_command(command) -> None:
    """Put the help texts of `command` (and its subcommands and options) into the
    current language. The English is kept, so switching back restores it."""
    if _catalog is None and _SOURCE not in command.__dict__:
        return  # English, and never translated: nothing to do (start-up stays free)
    for attribute in ("help", "short_help", "epilog"):
        source = _help_source(command, attribute)
        if source:
            setattr(command, attribute, _(source))
    if _catalog is not None and not _help_source(command, "short_help") and command.help:
        # click cuts a short help at the first ". " within 45 characters, which
        # would leave "..." of a Chinese sentence: take its first sentence.
        first = command.help.split("\n\n")[0].replace("\n", "")
        command.short_help = first.split("。")[0] if "。" in first else first
    elif _catalog is None and not _help_source(command, "short_help"):
        command.short_help = None
    for param in getattr(command, "params", ()):
        source = _help_source(param, "help")
        if source:
            param.help = _(source)
    for sub in getattr(command, "commands", {}).values():
        localize_command(sub)
