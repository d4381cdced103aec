"""What one invocation of wxpay shares between the CLI layer and its commands.

`App` holds the global options, loads the profile and builds the one `Client`
lazily (so `--help` and usage errors never touch keys or httpx), and starts the
in-process sandbox for `--sandbox`. It knows nothing of click.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from wxpay_cli import collector
from wxpay_cli.i18n import _
from wxpay_cli.terminal import output

if TYPE_CHECKING:
    from pathlib import Path

    from wxpay_cli.local.config import Profile


class App:
    def __init__(self, *, retry_sleep=None) -> None:
        # How the clients wait between retries (seconds -> None); None: really sleep.
        # Tests pass a recorder so no test waits on a back-off.
        self.retry_sleep = retry_sleep
        self.config_flag: str | None = None
        self.profile_flag: str | None = None
        self.use_sandbox = False
        self.verbose = False
        self.traceback = False
        self.output_format: str | None = None  # set by --format/--json
        self.batch_sheet: str | None = None  # --sheet: the workbook's sheet a batch reads
        self.accept_numeric_ids = False  # --accept-numeric-ids: a workbook's number cells are ids
        self.output_path: Path | None = None  # -o FILE: rows go there (replaced whole), not to stdout
        self._profile: Profile | None = None
        self._client = None
        self._extra_clients: list = []
        self._signer = None
        self._verifier = None
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

    def link_fetcher(self, *, allowed: tuple[str, ...] = (), confirm_host=None):
        """The profile's link fetcher (flows.links); an audit log that cannot record is said once.
        `allowed`: hosts let through (--allow-link-host); `confirm_host(host)`: asks a person."""
        from wxpay_cli.flows.links import LinkFetcher

        def warn(exc) -> None:
            output.warn(_("{message}; link fetches are not being recorded in the audit log").format(
                message=exc.message))

        return LinkFetcher(self.profile(), self.audit(), warn, allowed=allowed, confirm_host=confirm_host)

    def audit(self):
        """The audit log of the profile in use: its `audit_log`, else the default one.

        With no config file at all (and no --sandbox), the default log: `wxpay
        audit` must still read it before any profile exists.
        """
        from wxpay_cli.local.audit import AuditLog

        if self._profile is None and not self.use_sandbox:
            from wxpay_cli.local.config import config_path

            if not config_path(self.config_flag)[0].exists():
                return AuditLog()
        return AuditLog(self.profile().audit_log)

    def profile(self) -> Profile:
        if self._profile is None:
            if self.use_sandbox:
                self._profile = self._start_sandbox()
            else:
                from wxpay_cli.local.config import load_profile

                self._profile = load_profile(self.config_flag, self.profile_flag)
            warn_if_readable(self._profile.private_key)
        return self._profile

    def signer(self):
        """The merchant's signer for the chosen profile, loaded once."""
        if self._signer is None:
            from wxpay_cli.local.credentials import signer_for

            self._signer = signer_for(self.profile())
        return self._signer

    def credentials(self):
        """(signer, verifier) for the chosen profile, loaded once (the signer first)."""
        if self._verifier is None:
            from wxpay_cli.local.credentials import verifier_for

            self.signer()
            self._verifier = verifier_for(self.profile())
            memory = self._verifier.shared_nonces
            if memory is not None:
                memory.on_problem = lambda problem: output.warn(
                    _("{problem}; answers are checked for replays within this run only").format(problem=problem))
        return self.signer(), self._verifier

    def replay_memory(self):
        """The replay memory shared by this user's runs (local.nonces.SeenNonces), or None."""
        return self.credentials()[1].shared_nonces

    def client(self):
        """The shared signed, verifying client for the chosen profile."""
        if self._client is None:
            verifier = self.credentials()[1]
            self._client = self._new_client(verifier)
        return self._client

    def client_with(self, verifier, on_response=None):
        """A new signed client that verifies with `verifier`, or not at all with None
        (the caller then verifies): for `certs download` and `config check`, which
        must work before a profile has any key to verify with. Closed with the app."""
        client = self._new_client(verifier, on_response)
        self._extra_clients.append(client)
        return client

    def _new_client(self, verifier, on_response=None):
        from wxpay_cli.local.config import check_proxy_environment
        from wxpay_cli.wire.client import Client

        check_proxy_environment()

        profile = self.profile()
        extra = {"sleep": self.retry_sleep} if self.retry_sleep else {}
        client = Client(base_url=profile.base_url, signer=self.signer(), verifier=verifier, timeout=profile.timeout,
                        trace=output.info if self.verbose else None, on_response=on_response, **extra)
        collector.started()  # what the call needs is loaded
        return client

    def async_client(self, *, concurrency: int, rate: float | None):
        """A batch client (create it inside the running event loop; close it with `aclose`)."""
        from wxpay_cli.local.config import check_proxy_environment
        from wxpay_cli.wire.aclient import AsyncClient

        check_proxy_environment()

        signer, verifier = self.credentials()
        client = AsyncClient(base_url=self.profile().base_url, signer=signer, verifier=verifier,
                             timeout=self.profile().timeout, trace=output.info if self.verbose else None,
                             concurrency=concurrency, rate=rate, retry_sleep=self.retry_sleep)
        collector.started()  # a batch is collected as usual, over its own objects only
        return client

    def _start_sandbox(self) -> Profile:
        from wxpay_cli.sandbox.profile import sandbox_profile
        from wxpay_cli.sandbox.server import Sandbox, seed_demo

        # A merchant in migration: answers signed with the public key, and platform
        # certificates to download, so every README command can be rehearsed.
        self._sandbox = Sandbox(has_platform_certs=True).start()
        seed_demo(self._sandbox)
        import tempfile
        from pathlib import Path

        self._sandbox_dir = Path(tempfile.mkdtemp(prefix="wxpay-sandbox-"))
        output.info(_("note: using the built-in sandbox at {url} (demo keys; links are not real)").format(url=self._sandbox.url))
        return sandbox_profile(self._sandbox, self._sandbox_dir, name="sandbox")

    def close(self) -> None:
        for client in [self._client, *self._extra_clients]:
            if client is not None:
                client.close()
        if self._sandbox is not None:
            self._sandbox.stop()
        if self._sandbox_dir is not None:
            import shutil

            shutil.rmtree(self._sandbox_dir, ignore_errors=True)


def warn_if_readable(private_key: Path | None) -> None:
    """Every command that loads a profile warns when other users can read its private key."""
    from wxpay_cli.local import keys

    if private_key and keys.loose_permissions(private_key):
        output.warn(_("{private_key} is readable by other users; run: chmod 600 {private_key}").format(private_key=private_key))
