"""Component ids of the map page, in one place."""

URL = "url"
MAP = "onemap-map"
AREAS = "areas-layer"
OUTLINE = "outline-layer"
HOUSEHOLDS = "households-layer"
BREADCRUMB = "breadcrumb"
PANEL = "side-panel"
