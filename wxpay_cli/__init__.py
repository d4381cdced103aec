"""wxpay: a command-line tool for WeChat Pay APIv3 service providers (K12 face payment)."""

__version__ = "0.1.0"
