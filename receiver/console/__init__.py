"""The web console at ``/ui/``: server-rendered pages over the same stores as the REST API.

``routes`` mounts it (``FLOWTRACK_UI=0`` leaves it out); ``session`` and ``csrf`` sign
people in with an API key and protect its forms; ``auth`` guards each page; one module
per page (``overview``, ``launches``, ``launch``, ``conversations``, ``flows``,
``dead_letters``); ``timeline`` and ``graph`` compute the SVG drawings' layouts;
``rendering`` holds the templates and the static files.
"""
