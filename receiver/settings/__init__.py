"""Settings: read once from ``FLOWTRACK_*`` environment variables, validated, passed down.

Nothing else in flowtrack reads the environment. Each setting is declared once: a field
of :class:`Settings` whose default is ``setting(variable, parser, default as written in
the environment, help)``, which keeps a :class:`Setting` in the field's metadata. The
field's default, its parsing in :meth:`Settings.from_env` and its error messages all come
from that declaration. The ``FLOWTRACK_GENESYS_*`` variables are declared together in the
one field they build, ``genesys``.

A bad value stops the process at start with every problem at once, each naming its
variable and saying what is expected; the value of a secret setting is never echoed.

- :mod:`~receiver.settings.declaration`: ``setting``/``setting_group`` and the
  :class:`Setting` each keeps;
- :mod:`~receiver.settings.values`: the parsers of the values (numbers, flags, tokens,
  webhook secrets, URLs, flow timeouts…);
- :mod:`~receiver.settings.genesys`: the ``FLOWTRACK_GENESYS_*`` region and cross-checks;
- :mod:`~receiver.settings.catalog`: the :class:`Settings` fields and :class:`SettingsError`;
- :mod:`~receiver.settings.table`: the README's configuration table
  (``python -m receiver.settings`` prints it).
"""

from receiver.settings.catalog import Settings, SettingsError
from receiver.settings.declaration import PREFIX, Setting, SettingGroup
from receiver.settings.table import configuration_table, declarations, main
from receiver.settings.values import ApiKey, WebhookSecret

__all__ = [
    "PREFIX",
    "ApiKey",
    "Setting",
    "SettingGroup",
    "Settings",
    "SettingsError",
    "WebhookSecret",
    "configuration_table",
    "declarations",
    "main",
]
