"""A loopback emulator of the WeChat Pay K12 face-payment endpoints.

`Sandbox` (server.py) checks signatures like the real server and signs its
answers; `SandboxKeys` (keys.py) makes throw-away credentials; `profile.py`
turns a running sandbox into a ready wxpay profile.
"""
