"""The folder a `sandbox serve` lives in: its keys, pupils, profile and audit log.

A temporary folder by default (removed when the sandbox stops), or `--state DIR`
kept across restarts, so a profile made with `config init` against the
sandbox keeps working:

    DIR/sandbox/      the whole key set, the WeChat side too (mode 700, files 600)
    DIR/state.json    organizations, pupils and contract states; the last port
    DIR/keys/         the merchant's files the profile names
    DIR/config.toml   the ready profile (mode 600)
    DIR/audit.jsonl   the rehearsal's own audit log (named by the profile)
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from wxpay_cli.i18n import _
from wxpay_cli.sandbox.keys import SandboxKeys

BINARY = getattr(os, "O_BINARY", 0)  # Windows translates line ends in files opened without it


class HomeError(Exception):
    """The state folder cannot be used; the message says why."""


class SandboxHome:
    def __init__(self, folder: Path | None):
        self.keep = folder is not None
        if folder is None:
            folder = Path(tempfile.mkdtemp(prefix="wxpay-sandbox-"))
        else:
            # Absolute, as every path the profile names must be: wxpay reads a relative path in a
            # profile from the profile's own folder, not from where `sandbox serve` started.
            folder = Path(os.path.abspath(folder))
            try:
                folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            except OSError as exc:
                raise HomeError(_("cannot use {folder} as the sandbox state folder: {reason}").format(
                    folder=folder, reason=exc.strerror)) from None
        self.folder = folder
        self.state_file = folder / "state.json"
        self.config = folder / "config.toml"
        self.audit_log = folder / "audit.jsonl"

    def keys(self, *, zero_serials: bool = False) -> SandboxKeys:
        """The kept key set, or a new one (kept when the folder is).

        `zero_serials`: new keys get certificate serials that start with 0; kept keys
        whose serials do not are refused (they cannot be changed without a new profile).
        """
        store = self.folder / "sandbox"
        if self.keep and (store / "keys.json").exists():
            try:
                keys = SandboxKeys.load(store)
            except (OSError, ValueError, KeyError) as exc:
                raise HomeError(_("the sandbox keys in {folder} are damaged ({reason}); "
                                  "use another --state folder").format(folder=store, reason=exc)) from None
            if zero_serials and not keys.zero_led:
                raise HomeError(_("the keys kept in {folder} have certificate serials that do not start with 0; "
                                  "for --zero-serials use another --state folder").format(folder=self.folder))
            return keys
        keys = SandboxKeys.generate(zero_led=zero_serials)
        if self.keep:
            keys.save(store)
        return keys

    def saved(self) -> dict | None:
        """What `save` kept last time, or None on a first start."""
        if not (self.keep and self.state_file.exists()):
            return None
        try:
            data = json.loads(self.state_file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise HomeError(_("{file} cannot be read ({reason}); remove it to start from the demo roster").format(
                file=self.state_file, reason=exc)) from None
        if not isinstance(data, dict):
            raise HomeError(_("{file} is not a sandbox state; remove it to start from the demo roster").format(
                file=self.state_file))
        return data

    def save(self, snapshot: dict, port: int, mode: str) -> None:
        """Keep pupils and contract states (written whole, then renamed: never half a file)."""
        if not self.keep:
            return
        data = json.dumps({**snapshot, "port": port, "mode": mode}, ensure_ascii=False).encode()
        temporary = self.state_file.with_suffix(".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | BINARY, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(temporary, self.state_file)

    def write_config(self, text: str) -> None:
        fd = os.open(self.config, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | BINARY, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)

    def close(self) -> None:
        """Remove a temporary folder, keys included; a kept one stays."""
        if not self.keep:
            shutil.rmtree(self.folder, ignore_errors=True)
