"""What every robotctl program does first: its command line (``--config``/``--dev`` and its
own options) and its configuration, with one exit status for a configuration error.

Used by ``python3 -m gateway``, ``-m executor``, ``-m executor.default_watch``,
``-m gateway.avahi_advert``, ``-m shared.devsupervisor`` and ``-m shared.exit_record``.
Logging is set up by each (shared.logsetup) between the two steps, as it needs.
"""
from __future__ import annotations

import argparse
from typing import Callable, List, Optional

from shared import config as config_module

# EX_CONFIG: systemd shows it, and the dev supervisor stops retrying a program that exits so.
EX_CONFIG = 78


def arguments(prog: str, description: Optional[str], argv: Optional[List[str]] = None,
              add: Optional[Callable[[argparse.ArgumentParser], object]] = None
              ) -> argparse.Namespace:
    """Parse the command line: ``--config``, ``--dev`` and what ``add`` adds."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    config_module.add_arguments(parser)
    if add is not None:
        add(parser)
    return parser.parse_args(argv)


def load_config(args: argparse.Namespace,
                report: Callable[[str], object]) -> Optional[config_module.Config]:
    """The configuration the arguments name; None after ``report(problem)`` if it is bad."""
    try:
        return config_module.load(config_module.path_from_args(args))
    except config_module.ConfigError as e:
        report(str(e))
        return None
