"""``python -m relais``: the same as the ``relais`` command."""

from relais.cli import main

main()
