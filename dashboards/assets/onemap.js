/* Browser-side styling for dash-leaflet layers, referenced as {"variable": "onemap.<name>"}.
   Hand-written and committed: nothing is generated into the working directory at run time. */
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
            fill = hideout.noData || "#d9d9d9";
            if (value !== null) {
                let i = breaks.findIndex(function (b) { return value <= b; });
                if (i < 0) { i = breaks.length - 1; }
                fill = (hideout.colours || [])[i] || fill;
            }
        }
        return {
            color: "#3b4a5a",
            weight: props.has_children ? 1 : 2,
            fillColor: fill,
            fillOpacity: 0.7,
            className: "onemap-area onemap-area-" + props.code
        };
    },
    outlineStyle: function () {
        return {color: "#1f2d3d", weight: 3, fill: false, interactive: false};
    },
    householdPoint: function (feature, latlng) {
        // Status colours; a household placed only inside its village (no GPS) is hollow.
        const colours = {"低保": "#c0392b", "特困": "#8e44ad", "低边": "#d68910"};
        const colour = colours[feature.properties.status] || "#555";
        const exact = feature.properties.precision === "gps";
        return L.circleMarker(latlng, {
            radius: 5, color: colour, weight: exact ? 1 : 2, fillColor: colour,
            fillOpacity: exact ? 0.85 : 0.1, dashArray: exact ? null : "2 2",
            className: "onemap-household onemap-household-" + feature.properties.precision
        });
    },
    householdEachFeature: function (feature, layer) {
        const p = feature.properties;
        const label = document.createElement("span");
        label.textContent = p.household_id + " · " + p.status + " · " + p.size + "人" +
            (p.precision === "gps" ? "" : " · 位置为村内估计");
        layer.bindTooltip(label);
    },
    areaEachFeature: function (feature, layer) {
        // Names are data: build a text node, never HTML. The value is read when shown.
        layer.bindTooltip(function () {
            const hideout = window.onemap._hideout || {};
            const values = hideout.values || {};
            const label = document.createElement("span");
            let text = feature.properties.name;
            if (feature.properties.code in values) {
                const value = values[feature.properties.code];
                text += " · " + (value === null ? "无数据"
                    : value.toFixed(hideout.decimals || 0) + " " + (hideout.unit || ""));
            }
            label.textContent = text;
            return label;
        }, {sticky: true, className: "onemap-tooltip"});
    }
});
