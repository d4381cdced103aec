"""An independent client against the sandbox: the PyPI `wechatpayv3` SDK (a test
extra, never a runtime dependency), in both key modes, with serials that start
with 0. The sandbox accepts its signed requests on every endpoint; the SDK's own
verification passes on every answer, and fails when one byte of an answer is
changed after signing."""

from __future__ import annotations

import json

import pytest

# A test extra (pip install '.[test]'): missing, this file errors rather than skips,
# so a run that lost it cannot pass without the proof.
from wechatpayv3.core import Core
from wechatpayv3.type import RequestType

from wxpay_cli.sandbox.keys import cert_pem, private_pem, public_pem


def sdk_for(box, tmp_path):
    """The SDK's Core pointed at `box`; in certificate mode it downloads the certificates itself."""
    keys = box.keys
    common = dict(mchid=keys.mchid, cert_serial_no=keys.serial_no, private_key=private_pem(keys.merchant_key).decode(),
                  apiv3_key=keys.apiv3_key, timeout=10)
    if box.state.mode == "public_key":
        core = Core(**common, public_key=public_pem(keys.wechat_key.public_key()).decode(),
                    public_key_id=keys.public_key_id)
        core._gate_way = box.url  # the SDK has no setting for the base URL
        return core
    # Its constructor would fetch certificates from the real gateway: build it without, then let it
    # fetch them from the sandbox with its own download, AES-GCM decryption and checks.
    init = Core._init_certificates
    Core._init_certificates = lambda self: None
    try:
        core = Core(**common, cert_dir=str(tmp_path / "sdk-certs"))
    finally:
        Core._init_certificates = init
    core._gate_way = box.url
    core._init_certificates()
    assert [c.serial_number for c in core._certificates] == [keys.platform_cert.serial_number]
    assert (tmp_path / "sdk-certs" / f"{keys.platform_serial}.pem").read_bytes() == cert_pem(keys.platform_cert)
    return core


def calls(box):
    """(method, path, data, expected status) for each endpoint the sandbox serves."""
    demo = box.state.users[("demo-org", "demo")]
    target = box.seed_user("demo-org", "sdk-pupil", user_name="SDK", encrypt_name=False)
    return [
        (RequestType.POST, "/v3/offlineface/repayment-url", {"out_user_id": "demo", "organization_id": "demo-org"}, 200),
        (RequestType.GET, "/v3/offlinefacemch/organizations/demo-org/users/out-user-id/demo", None, 200),
        (RequestType.GET, f"/v3/offlineface/contracts/{demo.contract_id}", None, 200),
        (RequestType.GET, "/v3/offlinefacemch/organizations?organization_id=1234567", None, 200),
        (RequestType.GET, "/v3/certificates", None, 200),
        (RequestType.POST, f"/v3/offlinefacemch/organizations/demo-org/users/user-id/{target.user_id}/terminate-contract",
         None, 204),
    ]


@pytest.fixture(params=["public_key", "certificate"])
def box(request, sandbox_keys):
    from wxpay_cli.sandbox.server import Sandbox, seed_demo

    with Sandbox(sandbox_keys, mode=request.param, has_platform_certs=True) as served:
        seed_demo(served)
        yield served


def test_sdk_requests_are_accepted_and_its_verification_passes(box, tmp_path):
    core = sdk_for(box, tmp_path)
    box.received.clear()
    for method, path, data, status in calls(box):
        code, message = core.request(path, method=method, data=data)  # raises if its verification fails
        assert code == status, message
        record = box.received[-1]
        assert record.signature_ok and record.target == path and record.status == status
        if status == 200:
            assert isinstance(json.loads(message), dict)
    assert box.state.users[("demo-org", "sdk-pupil")].contract_state == "TERMINATED"


def test_sdk_verification_fails_when_one_byte_of_an_answer_changes(box, tmp_path):
    core = sdk_for(box, tmp_path)
    for method, path, data, _status in calls(box):
        box.inject("flip_byte", path_contains=path.split("?")[0])
        with pytest.raises(Exception, match="failed to verify the signature"):
            core.request(path, method=method, data=data)
        assert box.received[-1].signature_ok  # the request was fine; the answer was changed
