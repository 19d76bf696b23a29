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
    areaEachFeature: function (feature, layer) {
        // Names are data: build a text node, never HTML.
        const label = document.createElement("span");
        label.textContent = feature.properties.name;
        layer.bindTooltip(label, {sticky: true, className: "onemap-tooltip"});
    }
});
