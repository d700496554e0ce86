"""`python -m bedside`: the `bedside` command."""

from bedside.cli import main

if __name__ == "__main__":
    main(prog_name="bedside")
