"""Who may use the page and who may add documents: users and passwords, read-only, upload users.

Passwords are checked by Gradio's own login (``launch(auth=...)``); this module only reads them
from flags, a file or the environment, and decides who may add documents. The web server
enforces the decision on every upload, whatever the page shows.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path


class AccessError(ValueError):
    """A bad --auth, --auth-file or --upload-users value; the message names it and the fix."""


@dataclass(frozen=True, slots=True)
class Access:
    users: dict[str, str] = field(default_factory=dict)  # user -> password; empty: no login
    read_only: bool = False  # no upload panel and no upload handler at all
    upload_users: frozenset[str] | None = None  # None: everyone who may use the page may add

    @property
    def login(self) -> bool:
        return bool(self.users)

    @property
    def uploads(self) -> bool:
        """Whether the page has an upload handler at all."""
        return not self.read_only

    def may_add(self, user: str | None) -> bool:
        if self.read_only:
            return False
        return self.upload_users is None or (user is not None and user in self.upload_users)

    @property
    def removals(self) -> bool:
        """Whether the page has a remove handler at all: only with logins, never read-only."""
        return self.login and not self.read_only

    def may_remove(self, user: str | None) -> bool:
        """Signed-in users who may add documents may remove them; nobody anonymous."""
        return self.removals and user is not None and user in self.users and self.may_add(user)

    def gradio_auth(self) -> list[tuple[str, str]] | None:
        return sorted(self.users.items()) or None


def parse_pair(entry: str, where: str) -> tuple[str, str]:
    """``user:password`` (the password may contain colons) -> (user, password)."""
    user, sep, password = entry.strip().partition(":")
    user = user.strip()
    if not sep or not user or not password:
        shown = f"{user}:…" if sep else (user[:20] + "…" if len(user) > 20 else user)
        raise AccessError(f"{where}: {shown!r} is not user:password; write each login as user:password")
    return user, password


def read_auth_file(path: str | Path) -> list[tuple[str, str]]:
    """One ``user:password`` per line; blank lines and lines starting with # are ignored."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8"
        raise AccessError(f"--auth-file {str(path)!r} cannot be read ({reason}); pass a readable text file") from None
    pairs = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip() and not line.lstrip().startswith("#"):
            pairs.append(parse_pair(line, f"--auth-file {path}, line {number}"))
    if not pairs:
        raise AccessError(f"--auth-file {str(path)!r} has no user:password lines; add at least one")
    return pairs


def make_access(
    auth: Iterable[str] = (),
    auth_file: str | Path | None = None,
    env_auth: str | None = None,
    read_only: bool = False,
    upload_users: str | None = None,
) -> Access:
    """The access rules from app.py's flags (``--auth`` entries, ``--auth-file``) and ``FTZQA_AUTH``
    (comma-separated user:password pairs)."""
    pairs = [parse_pair(a, "--auth") for a in auth]
    if auth_file:
        pairs += read_auth_file(auth_file)
    if env_auth:
        pairs += [parse_pair(a, "FTZQA_AUTH") for a in env_auth.split(",") if a.strip()]
    users: dict[str, str] = {}
    for user, password in pairs:
        if user in users and users[user] != password:
            raise AccessError(f"user {user!r} is given twice with different passwords; keep one")
        users[user] = password
    allowed = None
    if upload_users is not None:
        allowed = frozenset(u.strip() for u in upload_users.split(",") if u.strip())
        if not users:
            raise AccessError("--upload-users needs logins; add --auth user:password (or --auth-file)")
        unknown = sorted(allowed - set(users))
        if unknown:
            raise AccessError(f"--upload-users names {', '.join(unknown)}, who have no login; add them with --auth")
    return Access(users=users, read_only=read_only, upload_users=allowed)


def is_loopback(host: str) -> bool:
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def exposure_warning(host: str, access: Access) -> str | None:
    """A warning when the page is reachable from other machines without a login."""
    if is_loopback(host) or access.login:
        return None
    changes, fixes = ("", "") if access.read_only else (" and add documents to the corpus", " or --read-only")
    return (
        f"WARNING: serving on {host} without a login: anyone who can reach this port can read every "
        f"document{changes}. Add --auth user:password (or --auth-file FILE){fixes}, "
        "and put the server behind a reverse proxy with TLS (README: Deploying)."
    )
