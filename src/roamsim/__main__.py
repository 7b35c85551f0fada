"""``python -m roamsim``: the same as the ``roamsim`` command."""

from roamsim.cli.main import main

if __name__ == "__main__":
    main()
