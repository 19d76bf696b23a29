/* Browser-side styling for dash-leaflet layers, referenced as {"variable": "onemap.<name>"}.
   Hand-written and committed: nothing is generated into the working directory at run time. */
window.onemap = Object.assign({}, window.onemap, {
    areaStyle: function (feature, context) {
        const hideout = (context && context.hideout) || {};
        const props = feature.properties;
        return {
            color: hideout.lineColor || "#3b4a5a",
            weight: props.has_children ? 1 : 2,
            fillColor: hideout.fillColor || "#9ec3e6",
            fillOpacity: props.has_children ? 0.35 : 0.5,
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
        // Names are data: build a text node, never HTML.
        const label = document.createElement("span");
        label.textContent = feature.properties.name;
        layer.bindTooltip(label, {sticky: true, className: "onemap-tooltip"});
    }
});
