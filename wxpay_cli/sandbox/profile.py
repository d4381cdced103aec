"""A wxpay profile that points at a running sandbox, as an object or as TOML."""

from __future__ import annotations

from pathlib import Path

from wxpay_cli.config import Profile
from wxpay_cli.sandbox.server import Sandbox


def profile_table(sandbox: Sandbox, folder: Path, *, mode: str | None = None) -> dict:
    """The `[profiles.NAME]` table for this sandbox, its key files written into `folder`.

    mode "public_key", "certificate" or "both" chooses which verification keys
    the profile lists; by default the one the sandbox signs with.
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
    table["base_url"] = sandbox.url
    table["timeout"] = 10
    return table


def sandbox_profile(sandbox: Sandbox, folder: Path, *, name: str = "sandbox", mode: str | None = None) -> Profile:
    from wxpay_cli.config import parse_profile

    profile = parse_profile(profile_table(sandbox, folder, mode=mode), name=name, path=None)
    profile.sources = {key: "sandbox" for key in profile.sources}
    return profile
