"""`python -m textrepair` is the same as the `textrepair` command."""

from textrepair.cli import app

if __name__ == "__main__":
    app()
