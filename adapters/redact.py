"""Credentials out of text: URLs' userinfo, credential-like query parameters, Authorization values.

Used on every error message (ConsoleError), log line (console.safe_text.LogFormatter), audit
field (console.audit.scrub) and screen message; it lives in adapters/ so adapters can use it.

    redact("http://user:pass@prom:9090/api?token=abc&x=1")
    -> "http://user:<redacted>@prom:9090/api?token=<redacted>&x=1"
"""

from __future__ import annotations

import re

REDACTED = "<redacted>"

# scheme://userinfo@ : the userinfo runs to the last '@' before the path, query or fragment.
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)([^\s/?#]*)@")
# ?name=value, &name=value or ;name=value where the name looks like a credential
# (token, access_token, password, api_key, client_secret, sig, X-Amz-Signature, ...).
_PARAM = re.compile(r"([?&;][\w.-]+)=([^&#;\s'\"]*)")
_SECRET_NAME = re.compile(r"(?i)token|passw|pwd|secret|credential|cookie|session|signature|apikey"
                          r"|(?:^|[-_.])(?:key|sig|auth)(?:[-_.]|$)")
# Authorization header values quoted in an error or a log line. After a lone "Bearer" only what
# looks like a token (8+ characters with a digit or punctuation): "the bearer token file" stays.
_AUTHORIZATION = re.compile(r"(?i)(\bauthorization[\"']?\s*[:=]\s*[\"']?(?:[a-z]+\s+)?)[\w.~+/=-]+"
                            r"|(\bbearer\s+)(?=[\w.~+/=-]*[\d.~+/=-])[\w.~+/=-]{8,}")


def _userinfo(match: re.Match[str]) -> str:
    user, sep, _password = match.group(2).partition(":")
    # user:password keeps the user (it says which account); a lone user part may be a token.
    return f"{match.group(1)}{user}:{REDACTED}@" if sep else f"{match.group(1)}{REDACTED}@"


def _param(match: re.Match[str]) -> str:
    name, value = match.groups()
    return f"{name}={REDACTED}" if value and _SECRET_NAME.search(name[1:]) else match.group(0)


def redact(text: str) -> str:
    """text with passwords in URLs, credential-like query parameters and Authorization values
    replaced by '<redacted>'; everything else unchanged."""
    # cheap tests first: most text has no URL, no parameter and no header in it
    if "@" in text and "://" in text:
        text = _USERINFO.sub(_userinfo, text)
    if "=" in text:
        text = _PARAM.sub(_param, text)
    lower = text.lower()
    if "bearer" in lower or "authorization" in lower:
        text = _AUTHORIZATION.sub(lambda m: (m.group(1) or m.group(2)) + REDACTED, text)
    return text
