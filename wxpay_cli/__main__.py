"""Allow `python -m wxpay_cli`."""

from wxpay_cli.cli import main

if __name__ == "__main__":
    main()
