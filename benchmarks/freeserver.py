"""A near-free APIv3 server for the batch benchmark, so the figure is wxpay's own.

    python freeserver.py FOLDER      # prints "ready CONFIG.toml" once listening

Answers every request at once, without checking it (no signature check, no
state): POST /v3/offlineface/repayment-url with a link, GET user queries with
a pupil. Every answer is validly signed with a fresh nonce and timestamp, as
WeChat's are, so the client does all its usual work. Writes a `bench` profile
(keys and config.toml) into FOLDER. One asyncio loop, HTTP/1.1 keep-alive.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import tomli_w

from wxpay_cli.sandbox.keys import SandboxKeys
from wxpay_cli.wire.signing import SCHEME, make_nonce, response_message, rsa_sign

CHINA = timezone(timedelta(hours=8))


class Answering(asyncio.Protocol):
    def __init__(self, keys: SandboxKeys, base: str):
        self.keys, self.base, self.buffer = keys, base, b""

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            head_end = self.buffer.find(b"\r\n\r\n")
            if head_end < 0:
                return
            head = self.buffer[:head_end].decode("latin-1").split("\r\n")
            length = 0
            for line in head[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            if len(self.buffer) < head_end + 4 + length:
                return
            body = self.buffer[head_end + 4:head_end + 4 + length]
            self.buffer = self.buffer[head_end + 4 + length:]
            method, target, _ = head[0].split(" ", 2)
            self.transport.write(self.answer(method, target, body))

    def answer(self, method: str, target: str, body: bytes) -> bytes:
        if method == "POST" and target.startswith("/v3/offlineface/repayment-url"):
            expire = datetime.now(CHINA).replace(microsecond=0) + timedelta(minutes=30)
            payload = {"repayment_url": f"https://pay.example/repay/u?token={uuid.uuid4().hex}",
                       "expire_at": expire.isoformat()}
        elif method == "GET" and "/users/out-user-id/" in target:
            parts = target.split("?")[0].split("/")
            payload = {"user_id": "wxu_" + parts[-1], "out_user_id": parts[-1], "organization_id": parts[-4],
                       "user_name": parts[-1].upper(), "user_type": "STUDENT", "status": "NORMAL",
                       "contract_state": "CONTRACTED", "face_image_ok": True, "contract_id": "c_" + parts[-1],
                       "student_info": {"class_name": "1-1"}}
        else:
            payload = {"code": "NOT_FOUND", "message": "not served here"}
        data = json.dumps(payload, ensure_ascii=False).encode()
        timestamp, nonce = str(int(time.time())), make_nonce()
        signature = rsa_sign(self.keys.wechat_key, response_message(timestamp, nonce, data))
        status = "200 OK" if payload.get("code") is None else "404 Not Found"
        head = (f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {len(data)}\r\n"
                f"Request-ID: 08{uuid.uuid4().hex.upper()}\r\nWechatpay-Timestamp: {timestamp}\r\n"
                f"Wechatpay-Nonce: {nonce}\r\nWechatpay-Signature: {signature}\r\n"
                f"Wechatpay-Serial: {self.keys.public_key_id}\r\nWechatpay-Signature-Type: {SCHEME}\r\n\r\n")
        return head.encode() + data


async def serve(folder: Path) -> None:
    keys = SandboxKeys.generate()
    loop = asyncio.get_running_loop()
    holder: dict = {}
    server = await loop.create_server(lambda: Answering(keys, holder["base"]), "127.0.0.1", 0, backlog=512)
    port = server.sockets[0].getsockname()[1]
    holder["base"] = f"http://127.0.0.1:{port}"
    paths = keys.write(folder / "keys")
    profile = {"mchid": keys.mchid, "serial_no": keys.serial_no, "private_key": str(paths["private_key"]),
               "public_key_id": keys.public_key_id, "public_key": str(paths["public_key"]),
               "base_url": holder["base"], "timeout": 10,
               "link_hosts": ["pay.example"]}  # its links' host, declared (never opened)
    config = folder / "config.toml"
    config.write_text(tomli_w.dumps({"default_profile": "bench", "profiles": {"bench": profile}}))
    config.chmod(0o600)
    print(f"ready {config}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(serve(Path(sys.argv[1])))
    except KeyboardInterrupt:
        pass
