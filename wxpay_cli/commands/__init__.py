"""Thin click commands, one module per group of jobs.

Each command parses its options, calls `wxpay_cli.wire.api` through the shared
client, and hands an `output.View` to `App.render`. Heavy modules (httpx, rich,
cryptography) are imported inside the command functions.
"""
