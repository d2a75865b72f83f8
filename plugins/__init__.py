"""The plugin system: hook specifications and the plugin manager (pluggy)."""

import pluggy

hookimpl = pluggy.HookimplMarker("ficha")

__all__ = ["hookimpl"]
