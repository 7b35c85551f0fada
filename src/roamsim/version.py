"""The package version (single source: the installed distribution's metadata)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("roamsim")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"
