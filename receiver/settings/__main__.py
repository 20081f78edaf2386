"""``python -m receiver.settings``: print the configuration table to paste into the README."""

from receiver.settings.table import main

main()
