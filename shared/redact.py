"""Secrets out of what newsflow prints and logs: passwords in Redis URLs and in messages."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, unquote

#: What a hidden secret is shown as.
MASK = "***"

#: Query parameters that carry secrets (redis-py reads ``?password=``; ``ssl_password``
#: unlocks a TLS key).
_SECRET_PARAMETER = re.compile(r"pass|secret|token", re.IGNORECASE)

#: A URL inside free text: a scheme, ``://`` and everything up to the next blank.
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://\S+")


def _redact_userinfo(userinfo: str) -> str:
    user, colon, _password = userinfo.partition(":")
    # Without a colon the whole part may be a password (``redis://secret@host`` is a common
    # slip): hide it too; a user name alone is no loss.
    return f"{user}:{MASK}" if colon else MASK


def _redact_query(query: str) -> str:
    parts = []
    for part in query.split("&"):
        key, equals, _value = part.partition("=")
        parts.append(f"{key}={MASK}" if equals and _SECRET_PARAMETER.search(key) else part)
    return "&".join(parts)


def redact_url(url: str) -> str:
    """``url`` with its password (``user:password@``, ``:password@``, a lone ``secret@``)
    and secret query parameters (``?password=``) replaced by ``***``; the rest (scheme,
    user, host, port, database, socket path) kept for diagnosis.

    The user part ends at the last ``@`` of the URL, so a password holding an unescaped
    ``@`` or ``/`` is hidden whole (at worst a little more than the password is hidden).
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    userinfo, at, location = rest.rpartition("@")
    if at:
        rest = f"{_redact_userinfo(userinfo)}@{location}"
    head, question, query = rest.partition("?")
    if question:
        fragment_sep = "#" if "#" in query else ""
        query, _, fragment = query.partition("#")
        rest = f"{head}?{_redact_query(query)}{fragment_sep}{fragment}"
    return f"{scheme}://{rest}"


def url_secrets(url: str) -> list[str]:
    """The secrets a URL holds (its password, secret query values), as written and
    unescaped, for :func:`redact_text` to hide wherever they turn up."""
    found: list[str] = []
    _scheme, sep, rest = url.partition("://")
    if not sep:
        return found
    userinfo, at, location = rest.rpartition("@")
    if at:
        user, colon, password = userinfo.partition(":")
        found.append(password if colon else user)
    _head, _question, query = location.partition("?")
    for key, value in parse_qsl(query.partition("#")[0], keep_blank_values=False):
        if _SECRET_PARAMETER.search(key):
            found.append(value)
    unescaped = [unquote(secret) for secret in found]
    # Longest first, so that a secret containing another is replaced whole.
    return sorted({s for s in found + unescaped if s}, key=len, reverse=True)


def redact_text(text: str, secrets: list[str] | None = None) -> str:
    """``text`` (an error message, a traceback) with every URL in it redacted, and every
    literal occurrence of ``secrets`` (see :func:`url_secrets`) replaced by ``***``."""
    for secret in secrets or []:
        text = text.replace(secret, MASK)
    return _URL_IN_TEXT.sub(lambda match: redact_url(match.group()), text)
