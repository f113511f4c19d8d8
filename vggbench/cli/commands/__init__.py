"""The commands beside the kinds': each a module with `add(commands)`, which adds its parser to argparse's
subparsers and returns it, and `run(args)`, which runs it and returns its exit status (None: 0). A new command is
one module here and one line in vggbench.cli._main.COMMANDS."""
