"""Turn a `Profile` into the one `Signer` and the one `Verifier` every call uses."""

from __future__ import annotations

from wxpay_cli.errors import ConfigError
from wxpay_cli.i18n import _
from wxpay_cli.local import keys
from wxpay_cli.local.config import PRIVATE_KEY_ENV, Profile
from wxpay_cli.wire import serials
from wxpay_cli.wire.signing import TIMESTAMP_WINDOW, Signer, VerificationKey, Verifier


def load_private_key(profile: Profile, *, check_consistency: bool = True):
    """The merchant private key named by the profile (or given in $WXPAY_PRIVATE_KEY)."""
    if profile.private_key_pem is not None:
        data, source = profile.private_key_pem, f"${PRIVATE_KEY_ENV}"
    else:
        data = keys.read_pem_file(profile.private_key, _("private key"))
        source = str(profile.private_key)
    return keys.load_private_key(data, source=source, password=keys.private_key_password(),
                                 check_consistency=check_consistency)


def signer_for(profile: Profile) -> Signer:
    """The signer every call uses; its key's full consistency check is left to `config check`."""
    return Signer(profile.mchid, profile.serial_no, load_private_key(profile, check_consistency=False))


def verification_keys(profile: Profile) -> list[VerificationKey]:
    """Every key the profile lists, by id: the public key and each platform certificate."""
    found: list[VerificationKey] = []
    if profile.public_key_id and profile.public_key:
        found.append(VerificationKey(profile.public_key_id, load_public_key(profile.public_key), "public_key"))
    for path in profile.platform_certs:
        cert = load_platform_certificate(path, merchant_serial=profile.serial_no)
        found.append(VerificationKey(cert.serial_no, cert.public_key, "platform_cert", cert.not_after.timestamp()))
    return found


def load_public_key(path):
    """WeChat Pay's public key (pub_key.pem) from a file."""
    return keys.load_public_key(keys.read_pem_file(path, _("WeChat Pay public key")), source=str(path))


def load_platform_certificate(path, *, merchant_serial: str) -> keys.Certificate:
    """A platform certificate file; a ConfigError if it is the merchant's own certificate."""
    cert = keys.load_certificate(keys.read_pem_file(path, _("platform certificate")), source=str(path))
    if serials.same(cert.serial_no, merchant_serial):
        raise ConfigError(
            _("{path} is the merchant's own certificate (serial {serial_no}), not a platform certificate").format(path=path, serial_no=cert.serial_no),
            hint=_("run `wxpay certs download --output DIR --save` to fetch WeChat's platform certificates"),
        )
    return cert


LOCK_WAIT = 2.0  # seconds another wxpay run's lock on the replay memory is waited for, at most


def verifier_for(profile: Profile) -> Verifier:
    """The profile's verifier; a ConfigError when it has no key to verify with."""
    found = verification_keys(profile)
    if not found:
        raise ConfigError(
            _("profile {name!r} has no key to verify WeChat's answers with").format(name=profile.name),
            hint=_("add public_key_id and public_key, or run `wxpay certs download --output DIR --save`"),
        )
    from wxpay_cli.local.nonces import SeenNonces

    # The replay check spans processes: the daily job runs one pupil per process.
    # Another run holds the lock for microseconds; one held longer is not waited for long: the check
    # runs inside answer verification, which in a batch holds up the whole event loop (every row in
    # flight) while it waits. After that the memory counts as unusable (said once; terminations refuse).
    return Verifier(found, shared_nonces=SeenNonces(keep=2 * TIMESTAMP_WINDOW, wait=min(profile.timeout,
                                                                                        LOCK_WAIT)))
