"""``python -m onelazy`` runs the command line."""

from onelazy.cli import main

main()
