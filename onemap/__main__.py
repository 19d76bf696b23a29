"""`python -m onemap` runs the CLI."""

from onemap.cli import main

main()
