"""``python -m simkit``."""

from .cli import main

main()
