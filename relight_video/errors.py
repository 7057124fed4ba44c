"""User-facing errors.

Anything raised as :class:`InputError` is the user's to fix (a missing file, a bad value); the CLI
prints its message as one line on stderr and exits with code 2, without a traceback.
"""


class InputError(ValueError):
    """Bad input named in the message: a path, an argument, a config key."""


class Terminated(KeyboardInterrupt):
    """SIGTERM (a ``kill``, a render farm stopping a job), raised where Ctrl-C's
    KeyboardInterrupt would be, so the same clean-up runs; the CLI exits with 143, not 130."""
