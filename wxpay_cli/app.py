"""What one invocation of wxpay shares between the CLI layer and its commands.

`App` holds the global options, loads the profile and builds the one `Client`
lazily (so `--help` and usage errors never touch keys or httpx), and starts the
in-process sandbox for `--sandbox`. It knows nothing of click.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from wxpay_cli import output
from wxpay_cli.config import Profile


class App:
    def __init__(self) -> None:
        self.config_flag: str | None = None
        self.profile_flag: str | None = None
        self.use_sandbox = False
        self.verbose = False
        self.traceback = False
        self.output_format: str | None = None  # set by --format/--json
        self._profile: Profile | None = None
        self._client = None
        self._sandbox = None
        self._sandbox_dir: Path | None = None

    @property
    def json_errors(self) -> bool:
        return self.output_format == "json"

    @property
    def format(self) -> str:
        return output.resolve_format(self.output_format)

    def render(self, view: output.View) -> None:
        output.render(view, self.format)

    def profile(self) -> Profile:
        if self._profile is None:
            if self.use_sandbox:
                self._profile = self._start_sandbox()
            else:
                from wxpay_cli.config import load_profile

                self._profile = load_profile(self.config_flag, self.profile_flag)
            warn_if_readable(self._profile.private_key)
        return self._profile

    def client(self):
        """The shared signed, verifying client for the chosen profile."""
        from wxpay_cli.credentials import verifier_for

        return self._build_client(verifier_for)

    def client_with(self, verifier, transport=None):
        """A signed client that verifies with `verifier`, or not at all with None
        (the caller then verifies): for `certs download` and `config check`, which
        must work before a profile has any key to verify with."""
        return self._build_client(lambda profile: verifier, transport)

    def _build_client(self, make_verifier, transport=None):
        if self._client is None:
            from wxpay_cli.client import Client
            from wxpay_cli.credentials import signer_for

            profile = self.profile()
            self._client = Client(
                base_url=profile.base_url,
                signer=signer_for(profile),
                verifier=make_verifier(profile),
                timeout=profile.timeout,
                trace=output.info if self.verbose else None,
                transport=transport,
            )
        return self._client

    def _start_sandbox(self) -> Profile:
        from wxpay_cli.sandbox.profile import sandbox_profile
        from wxpay_cli.sandbox.server import Sandbox, seed_demo

        self._sandbox = Sandbox().start()
        seed_demo(self._sandbox)
        self._sandbox_dir = Path(tempfile.mkdtemp(prefix="wxpay-sandbox-"))
        output.info(f"note: using the built-in sandbox at {self._sandbox.url} (demo keys; links are not real)")
        return sandbox_profile(self._sandbox, self._sandbox_dir, name="sandbox")

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
        if self._sandbox is not None:
            self._sandbox.stop()
        if self._sandbox_dir is not None:
            shutil.rmtree(self._sandbox_dir, ignore_errors=True)


def warn_if_readable(private_key: Path | None) -> None:
    """Every command that loads a profile warns when other users can read its private key."""
    from wxpay_cli import keys

    if private_key and keys.loose_permissions(private_key):
        output.warn(f"{private_key} is readable by other users; run: chmod 600 {private_key}")
