"""The peer to beat: one repayment-url call through the wechatpayv3 SDK (PyPI),
against the same sandbox profile. Run by benchmarks/run.py inside its own venv.

    python peer_wechatpayv3.py CONFIG.toml
"""

import sys
import tomllib

from wechatpayv3 import WeChatPay, WeChatPayType
from wechatpayv3.type import RequestType


def main() -> None:
    with open(sys.argv[1], "rb") as handle:
        profile = tomllib.load(handle)["profiles"]["sandbox"]
    with open(profile["private_key"]) as handle:
        private_key = handle.read()
    with open(profile["public_key"]) as handle:
        public_key = handle.read()
    pay = WeChatPay(
        wechatpay_type=WeChatPayType.NATIVE,
        mchid=profile["mchid"],
        private_key=private_key,
        cert_serial_no=profile["serial_no"],
        appid="wx0000000000000000",
        apiv3_key="0" * 32,
        partner_mode=True,
        public_key=public_key,
        public_key_id=profile["public_key_id"],
    )
    pay._core._gate_way = profile["base_url"]  # the SDK has no setting for the base URL
    code, message = pay._core.request(
        "/v3/offlineface/repayment-url",
        method=RequestType.POST,
        data={"out_user_id": "demo", "organization_id": "demo-org"},
    )
    if code != 200:
        sys.exit(f"peer call failed: {code} {message}")
    print(message)


if __name__ == "__main__":
    main()
