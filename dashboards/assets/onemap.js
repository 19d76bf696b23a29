/* Browser-side styling for dash-leaflet layers, referenced as {"variable": "onemap.<name>"}.
   Hand-written and committed: nothing is generated into the working directory at run time.
   Every text shown comes from the layer's hideout (the message catalog, in the view's language);
   data (names, ids) is always set as text, never as HTML. */
window.onemap = Object.assign({}, window.onemap, {
    areaStyle: function (feature, context) {
        const hideout = (context && context.hideout) || {};
        const props = feature.properties;
        window.onemap._hideout = hideout;  // the tooltip reads the values shown
        let fill = "#9ec3e6";
        const values = hideout.values || {};
        if (props.code in values) {
            const value = values[props.code];
            const breaks = hideout.breaks || [];
            fill = hideout.noData || fill;  // the catalog's no_data colour
            if (typeof value === "string") {  // a count shown as "<5"
                fill = hideout.suppressedColour || fill;
            } else if (value === 0 && hideout.zeroColour) {  // zero: neutral, not a shade of alarm
                fill = hideout.zeroColour;
            } else if (value !== null) {
                let i = breaks.findIndex(function (b) { return value <= b; });
                if (i < 0) { i = breaks.length - 1; }
                fill = (hideout.colours || [])[i] || fill;
            }
        }
        return {
            color: "#3b4a5a",
            weight: props.has_children ? 1 : 2,
            fillColor: fill,
            fillOpacity: hideout.dim ? 0.3 : 0.7,  // dimmed under the heatmap
            className: "onemap-area onemap-area-" + props.code
        };
    },
    outlineStyle: function () {
        return {color: "#1f2d3d", weight: 3, fill: false, interactive: false};
    },
    _label: function (template, n) {
        return String(template || "{n}").replace("{n}", n);
    },
    _count: function (n, hideout) {
        // Counts 1-4 read "<5" for roles without portrait rights (hideout.suppressBelow).
        const below = (hideout && hideout.suppressBelow) || 0;
        return n > 0 && n < below ? "<" + below : String(n);
    },
    householdStyle: function (feature, context) {
        // Colour by warning level; a household placed only inside its village (no GPS) is hollow.
        // Also the layer's `style`, so Leaflet's restyling never falls back to a default.
        const hideout = (context && context.hideout) || {};
        const p = feature.properties;
        const level = p.warning_level || "none";
        const colour = (hideout.colours || {})[level] || "#555";
        const exact = p.precision === "gps";
        const selected = hideout.selected === p.household_id;
        return {
            radius: selected ? 9 : 5, color: selected ? "#111" : colour, opacity: 1,
            weight: selected ? 3 : (exact ? 1 : 2), fillColor: colour,
            fillOpacity: exact ? 0.85 : 0.35, dashArray: exact ? null : "2 2",
            className: "onemap-household onemap-household-" + p.precision +
                " onemap-level-" + level +
                (p.household_id ? " onemap-hh-" + p.household_id : " onemap-deidentified") +
                (selected ? " onemap-selected" : "")
        };
    },
    _rgba: function (hex, alpha) {
        const n = parseInt(String(hex).slice(1), 16);
        return "rgba(" + [(n >> 16) & 255, (n >> 8) & 255, n & 255, alpha].join(",") + ")";
    },
    householdPoint: function (feature, latlng, context) {
        // A marker whose (invisible) hit area is larger than the dot: 44 px on touch screens
        // (onemap.css), so a finger finds it. In its own pane, above the areas and the heatmap.
        const hideout = (context && context.hideout) || {};
        const s = window.onemap.householdStyle(feature, context);
        const dot = document.createElement("span");
        dot.className = "onemap-dot";
        dot.style.width = dot.style.height = (2 * s.radius) + "px";
        dot.style.border = s.weight + "px " + (s.dashArray ? "dashed " : "solid ") + s.color;
        dot.style.background = window.onemap._rgba(s.fillColor, s.fillOpacity);
        const icon = L.divIcon({html: dot, className: s.className + " onemap-hit", iconSize: null});
        return L.marker(latlng, {
            icon: icon, pane: hideout.pane || "markerPane", keyboard: false,
            zIndexOffset: hideout.selected === feature.properties.household_id ? 1000 : 0
        });
    },
    _bindInfo: function (layer, label) {
        // A hover tooltip with a mouse; on touch screens a tap opens a popup (kept in view).
        if (window.onemap.touch()) {
            layer.bindPopup(label, {
                maxWidth: Math.min(300, window.innerWidth - 48), autoPanPadding: [12, 12],
                className: "onemap-popup"
            });
        } else {
            layer.bindTooltip(label, {direction: "top", offset: [0, -6], className: "onemap-tooltip"});
        }
    },
    householdEachFeature: function (feature, layer, context) {
        const p = feature.properties;
        if (p.cluster) { return; }  // clusters get their tooltip in householdCluster
        const labels = ((context && context.hideout) || {}).labels || {};
        const label = document.createElement("span");
        if (!p.household_id) {  // de-identified: only its warning level
            label.textContent = [(labels.level || {})[p.warning_level || "none"] || "",
                labels.deidentified || ""].filter(Boolean).join(" · ");
            window.onemap._bindInfo(layer, label);
            return;
        }
        const parts = [
            p.household_id,
            (labels.status || {})[p.status] || p.status,
            window.onemap._label(labels.size, p.size),
            (labels.level || {})[p.warning_level || "none"] || ""
        ];
        if (p.precision !== "gps" && labels.estimated) { parts.push(labels.estimated); }
        label.textContent = parts.filter(Boolean).join(" · ");
        window.onemap._bindInfo(layer, label);
    },
    _clusterLevels: function (index, clusterId, order) {
        // Households per warning level inside a cluster, cached per supercluster index.
        window.onemap._clusterCache = window.onemap._clusterCache || new WeakMap();
        let cache = window.onemap._clusterCache.get(index);
        if (!cache) { cache = new Map(); window.onemap._clusterCache.set(index, cache); }
        if (!cache.has(clusterId)) {
            const counts = {};
            order.forEach(function (level) { counts[level] = 0; });
            index.getLeaves(clusterId, Infinity).forEach(function (leaf) {
                const level = leaf.properties.warning_level || "none";
                counts[level] = (counts[level] || 0) + 1;
            });
            cache.set(clusterId, counts);
        }
        return cache.get(clusterId);
    },
    householdCluster: function (feature, latlng, index, context) {
        // A circle with the number of households, coloured by the worst warning level inside.
        const hideout = (context && context.hideout) || {};
        const order = hideout.order || ["none", "yellow", "orange", "red"];
        const labels = hideout.labels || {};
        const p = feature.properties;
        const counts = window.onemap._clusterLevels(index, p.cluster_id, order);
        let worst = "none";
        order.forEach(function (level) { if (counts[level] > 0) { worst = level; } });
        const size = p.point_count < 10 ? 28 : p.point_count < 100 ? 34 : p.point_count < 1000 ? 40 : 46;
        // The circle shows the size; the hit area is at least 44 px (a finger's width).
        const hit = Math.max(size, 44);
        const element = document.createElement("div");
        element.style.width = element.style.height = size + "px";
        element.style.background = (hideout.colours || {})[worst] || "#555";
        const exact = window.onemap._count(p.point_count, hideout);
        element.dataset.count = exact;  // exact (unless suppressed), where the label abbreviates
        const count = document.createElement("span");
        count.textContent = exact === String(p.point_count) ? String(p.point_count_abbreviated)
            : exact;
        element.appendChild(count);
        const marker = L.marker(latlng, {
            icon: L.divIcon({
                html: element, className: "onemap-cluster onemap-cluster-" + worst,
                iconSize: L.point(hit, hit)
            })
        });
        const tooltip = [window.onemap._label(labels.cluster, exact)];
        order.slice().reverse().forEach(function (level) {
            if (counts[level] > 0) {
                tooltip.push(((labels.level || {})[level] || level) + " " +
                    window.onemap._count(counts[level], hideout));
            }
        });
        const label = document.createElement("span");
        label.textContent = tooltip.join(" · ");
        if (!window.onemap.touch()) {  // a tap zooms into the cluster
            marker.bindTooltip(label, {direction: "top", className: "onemap-tooltip"});
        }
        return marker;
    },
    areaEachFeature: function (feature, layer) {
        // The name is a permanent label (onemap-shell.js lays them out); with a mouse, hovering
        // also shows the value. Names are data: a text node, never HTML.
        layer.on("add", function () { window.onemap.addLabel(layer, feature); });
        layer.on("remove", function () { window.onemap.removeLabel(layer); });
        if (window.onemap.touch()) { return; }  // a tap drills down
        layer.bindTooltip(function () {
            const hideout = window.onemap._hideout || {};
            const values = hideout.values || {};
            const label = document.createElement("span");
            let text = feature.properties.name;
            if (feature.properties.code in values) {
                const value = values[feature.properties.code];
                const shown = typeof value === "string" ? value  // "<5"
                    : value === null ? null : value.toFixed(hideout.decimals || 0);
                text += " · " + (shown === null ? (hideout.noDataLabel || "—")
                    : shown + " " + (hideout.unit || ""));
            }
            label.textContent = text;
            return label;
        }, {sticky: true, className: "onemap-tooltip"});
    }
});

