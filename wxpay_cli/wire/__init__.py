"""The wire: what goes to WeChat Pay and what comes back, signed and checked.

`signing` signs requests and verifies answers (serials: certificate serial
numbers; nonces: the replay memory); `client`/`aclient` send one request or a
batch of them within the bounds of `bounds`; `api` describes each endpoint as
a `Call`, and `shapes` declares what a valid answer looks like. Nothing here
knows of a terminal, a config file or a command.
"""
