"""A wxpay profile that points at a running sandbox, as an object or as TOML."""

from __future__ import annotations

from pathlib import Path

from wxpay_cli.local.config import Profile
from wxpay_cli.sandbox.server import Sandbox


def profile_table(sandbox: Sandbox, folder: Path, *, mode: str | None = None, apiv3_key: bool = False,
                  audit_log: Path | None = None) -> dict:
    """The `[profiles.NAME]` table for this sandbox, its key files written into `folder`.

    mode "public_key", "certificate" or "both" chooses which verification keys
    the profile lists; by default the one the sandbox signs with. A rehearsal
    profile also carries the sandbox's throwaway `apiv3_key` (so `certs download`
    works) and its own `audit_log` (so rehearsals stay out of the real log).
    """
    paths = sandbox.keys.write(folder)
    mode = mode or sandbox.state.mode
    table = {
        "mchid": sandbox.keys.mchid,
        "serial_no": sandbox.keys.serial_no,
        "private_key": str(paths["private_key"]),
    }
    if mode in ("public_key", "both"):
        table["public_key_id"] = sandbox.keys.public_key_id
        table["public_key"] = str(paths["public_key"])
    if mode in ("certificate", "both"):
        table["platform_certs"] = [str(paths["platform_cert"])]
    if apiv3_key:
        table["apiv3_key"] = sandbox.keys.apiv3_key
    if audit_log is not None:
        table["audit_log"] = str(audit_log)
    table["base_url"] = sandbox.url
    table["timeout"] = 10
    return table


def sandbox_profile(sandbox: Sandbox, folder: Path, *, name: str = "sandbox", mode: str | None = None) -> Profile:
    """The profile `--sandbox` runs with: keys, throwaway APIv3 key and audit log all inside `folder`."""
    from wxpay_cli.local.config import parse_profile

    table = profile_table(sandbox, folder, mode=mode, apiv3_key=True, audit_log=folder / "audit.jsonl")
    profile = parse_profile(table, name=name, path=None)
    profile.sources = {key: "sandbox" for key in profile.sources}
    return profile
