/* The shell around the map, in the browser: the map's fit, permanent area labels without
   overlaps, tooltips kept inside the viewport, the phone's menu and bottom sheet, and a notice
   when the network (or the server) fails. Hand-written and committed; texts come from the page
   (the message catalog), data is set as text, never as HTML. */
window.onemap = Object.assign({}, window.onemap, {
    /** True on touch screens without hover (phones, tablets): taps, not hovers. */
    touch: function () {
        return Boolean(window.matchMedia && window.matchMedia("(hover: none)").matches);
    },
    _maps: [],
    _register: function (map) {
        if (!map || map._onemap) { return; }
        map._onemap = {labels: new Set(), timer: null};
        window.onemap._maps.push(map);
        window.onemap.map = map;
        const relayout = function () { window.onemap.layoutLabels(map); };
        map.on("zoomend moveend resize", relayout);
        if (window.onemap._pendingFit) {
            window.onemap.fit(map, window.onemap._pendingFit);
            window.onemap._pendingFit = null;
        }
    },
    fit: function (map, bounds) {
        map.invalidateSize();
        map.fitBounds(bounds);
    },
    /* --- permanent labels of the areas drawn (the children of the current area) ------------ */
    addLabel: function (layer, feature) {
        const map = layer._map;
        const p = feature.properties;
        if (!map || p.label_lat === undefined || p.label_lat === null) { return; }
        window.onemap._register(map);
        if (!map.getPane("onemap-labels")) {
            const pane = map.createPane("onemap-labels");
            pane.style.zIndex = 460;  // above the heatmap (450), below the households (500)
            pane.style.pointerEvents = "none";
        }
        const text = document.createElement("span");
        text.textContent = p.name;
        const marker = L.marker([p.label_lat, p.label_lon], {
            icon: L.divIcon({html: text, className: "onemap-label onemap-label-" + p.code,
                             iconSize: null}),
            pane: "onemap-labels", interactive: false, keyboard: false
        });
        const bounds = layer.getBounds();
        // Larger areas claim their place first.
        marker._priority = (bounds.getNorth() - bounds.getSouth()) *
            (bounds.getEast() - bounds.getWest());
        marker.addTo(map);
        layer._onemapLabel = marker;
        map._onemap.labels.add(marker);
        window.onemap.scheduleLabels(map);
    },
    removeLabel: function (layer) {
        const marker = layer._onemapLabel;
        if (!marker) { return; }
        const map = marker._map;
        marker.remove();
        layer._onemapLabel = null;
        if (map && map._onemap) { map._onemap.labels.delete(marker); }
    },
    scheduleLabels: function (map) {
        clearTimeout(map._onemap.timer);
        map._onemap.timer = setTimeout(function () { window.onemap.layoutLabels(map); }, 60);
    },
    layoutLabels: function (map) {
        // Sized by zoom; a label that would overlap one already placed (or leave the map) hides.
        if (!map._onemap) { return; }
        const size = Math.max(11, Math.min(16, 11 + (map.getZoom() - 7) * 0.7));
        map.getContainer().style.setProperty("--onemap-label-size", size.toFixed(1) + "px");
        const frame = map.getContainer().getBoundingClientRect();
        const placed = [];
        const labels = Array.from(map._onemap.labels)
            .sort(function (a, b) { return b._priority - a._priority; });
        labels.forEach(function (marker) {
            const element = marker.getElement();
            const text = element && element.firstChild;
            if (!text) { return; }
            element.style.visibility = "visible";
            const box = text.getBoundingClientRect();
            const pad = 3;
            const clash = placed.some(function (other) {
                return box.left - pad < other.right && box.right + pad > other.left &&
                    box.top - pad < other.bottom && box.bottom + pad > other.top;
            });
            const outside = box.left < frame.left || box.right > frame.right ||
                box.top < frame.top || box.bottom > frame.bottom;
            if (clash || outside) {
                element.style.visibility = "hidden";
            } else {
                placed.push(box);
            }
        });
    },
    /* --- tooltips never leave the viewport ------------------------------------------------- */
    keepInView: function (tooltip) {
        const element = tooltip._container;
        const map = tooltip._map;
        if (!element || !map) { return; }
        const box = element.getBoundingClientRect();
        const frame = map.getContainer().getBoundingClientRect();
        const left = Math.max(frame.left, 0) + 4;
        const right = Math.min(frame.right, window.innerWidth) - 4;
        const top = Math.max(frame.top, 0) + 4;
        const bottom = Math.min(frame.bottom, window.innerHeight) - 4;
        let dx = 0;
        let dy = 0;
        if (box.right > right) { dx = right - box.right; }
        if (box.left + dx < left) { dx = left - box.left; }
        if (box.bottom > bottom) { dy = bottom - box.bottom; }
        if (box.top + dy < top) { dy = top - box.top; }
        if (dx || dy) {
            L.DomUtil.setPosition(element, L.DomUtil.getPosition(element).add([dx, dy]));
        }
    },
    _patchLeaflet: function () {
        if (!window.L || !L.Map || L.Map._onemapPatched) { return Boolean(window.L && L.Map); }
        L.Map._onemapPatched = true;
        L.Map.addInitHook(function () { window.onemap._register(this); });
        const setPosition = L.Tooltip.prototype._setPosition;
        L.Tooltip.prototype._setPosition = function (pos) {
            setPosition.call(this, pos);
            window.onemap.keepInView(this);
        };
        return true;
    },
    /* --- the network: a failed callback says so and keeps what is shown -------------------- */
    network: function (state) {
        const body = document.body;
        if (!body) { return; }
        body.classList.toggle("network-down", state === "down");
        body.classList.toggle("network-failed", state === "failed");
    },
    /* --- the phone's bottom sheet --------------------------------------------------------- */
    _sheetDrag: null,
    _sheetStart: function (event) {
        const handle = event.target.closest && event.target.closest(".sheet-handle");
        if (!handle) { return; }
        const sheet = handle.closest(".sheet");
        window.onemap._sheetDrag = {sheet: sheet, y: event.clientY, dy: 0};
        sheet.classList.add("dragging");
        if (handle.setPointerCapture) { handle.setPointerCapture(event.pointerId); }
        event.preventDefault();
    },
    _sheetMove: function (event) {
        const drag = window.onemap._sheetDrag;
        if (!drag) { return; }
        drag.dy = event.clientY - drag.y;
        const open = drag.sheet.classList.contains("expanded");
        const base = open ? "0px" : "(100% - var(--sheet-peek))";
        drag.sheet.style.transform = "translateY(calc(" + base + " + " + drag.dy + "px))";
    },
    _sheetEnd: function () {
        const drag = window.onemap._sheetDrag;
        if (!drag) { return; }
        window.onemap._sheetDrag = null;
        drag.sheet.classList.remove("dragging");
        drag.sheet.style.transform = "";
        const expanded = Math.abs(drag.dy) < 8 ? !drag.sheet.classList.contains("expanded")
            : drag.dy < 0;
        window.onemap.expandSheet(expanded);
    },
    expandSheet: function (expanded) {
        const sheet = document.querySelector(".sheet");
        if (sheet) { sheet.classList.toggle("expanded", expanded); }
    }
});

/* Clientside callbacks: the map's fit, and the document's title and language. */
window.dash_clientside = window.dash_clientside || {};
window.dash_clientside.onemap = {
    fitArea: function (fit) {
        // Fitted here rather than through dash-leaflet's `viewport` (which logs every fit).
        if (!fit || !fit.bounds) { return window.dash_clientside.no_update; }
        const map = window.onemap.map;
        if (map) {
            window.onemap.fit(map, fit.bounds);
        } else {
            window.onemap._pendingFit = fit.bounds;
        }
        return fit.area;
    },
    setDocument: function (doc) {
        if (!doc) { return window.dash_clientside.no_update; }
        document.title = doc.title;
        document.documentElement.lang = doc.lang;
        return doc.lang;
    }
};

(function () {
    /* Leaflet's hooks go in before the map is made (dash-leaflet defines L as it loads). */
    (function patch(tries) {
        if (!window.onemap._patchLeaflet() && tries < 500) {
            setTimeout(function () { patch(tries + 1); }, 10);
        }
    })(0);

    /* A callback or layer request whose session has ended answers 401: go to the login page and
       come back to this view afterwards. A request that fails (no network) or a server error
       shows the notice; the map keeps what it shows. */
    const fetchFirst = window.fetch.bind(window);
    window.fetch = function () {
        return fetchFirst.apply(null, arguments).then(function (response) {
            if (response.status === 401 && window.location.pathname !== "/login") {
                const here = window.location.pathname + window.location.search;
                window.location.assign("/login?next=" + encodeURIComponent(here));
            }
            window.onemap.network(response.status >= 500 ? "failed" : "up");
            return response;
        }, function (error) {
            window.onemap.network("down");
            throw error;
        });
    };
    window.addEventListener("offline", function () { window.onemap.network("down"); });

    /* The phone's menu button and the sheet's handle (the page is redrawn by Dash: delegate). */
    document.addEventListener("click", function (event) {
        const toggle = event.target.closest && event.target.closest(".menu-toggle");
        const bar = document.querySelector(".topbar");
        if (toggle && bar) {
            bar.classList.toggle("menu-open");
        } else if (bar && !(event.target.closest && event.target.closest(".user-menu"))) {
            bar.classList.remove("menu-open");
        }
    });
    document.addEventListener("pointerdown", window.onemap._sheetStart);
    document.addEventListener("pointermove", window.onemap._sheetMove);
    document.addEventListener("pointerup", window.onemap._sheetEnd);
    document.addEventListener("pointercancel", window.onemap._sheetEnd);

    /* A portrait opened from the map (a tap on a household) pulls the sheet up. */
    new MutationObserver(function () {
        const title = document.getElementById("portrait-title");
        if (title && !title._onemapSeen) {
            title._onemapSeen = true;
            window.onemap.expandSheet(true);
        }
    }).observe(document.documentElement, {childList: true, subtree: true});
})();
