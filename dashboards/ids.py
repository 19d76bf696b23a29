"""Component ids of the map page, in one place."""

URL = "url"
MAP = "onemap-map"
AREAS = "areas-layer"
OUTLINE = "outline-layer"
HOUSEHOLDS = "households-layer"
HEAT = "heat-layer"
TOPBAR = "topbar"
BREADCRUMB = "breadcrumb"
PANEL = "side-panel"
#: The panel's frame: a side panel on desks, a bottom sheet on phones.
SHEET = "sheet"
#: The area the map was last fitted to (a new household or language does not refit it).
FITTED = "fitted-area"
#: Document title and language, applied in the browser (``onemap.setDocument``).
DOCUMENT = "document"
DOCUMENT_SET = "document-set"
#: Where the map should fit (bounds), applied in the browser (``onemap.fitArea``).
FIT = "fit-bounds"
FIT_DONE = "fit-done"
